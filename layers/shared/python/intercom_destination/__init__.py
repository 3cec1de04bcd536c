"""Shared code of the Intercom destination: inbound models, mapping, Intercom client and delivery."""
