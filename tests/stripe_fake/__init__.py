"""A local Stripe-compatible API server and Stripe-shaped signed webhook events, for tests.

See ``README.md`` in this folder.
"""
