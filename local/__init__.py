"""The local dev stack: an HTTP → API Gateway adapter, an Intercom sandbox and embedded SQS."""
