"""The one Intercom client (timeouts, retries, rate limits, error taxonomy) and the custom-attribute policy."""
