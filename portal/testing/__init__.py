"""A testing kit for host apps, the plugin's own tests, the demo and the benchmarks.

- :mod:`advocacy_portal.testing.stripe_server`: :class:`FakeStripe`, a local Stripe-compatible API server,
  and :func:`make_stripe_client`.
- :mod:`advocacy_portal.testing.stripe_events`: Stripe-shaped webhook events and their ``Stripe-Signature``
  (:func:`signed_request`).
- :mod:`advocacy_portal.testing.chromium`: headless Debian Chromium's path, flags and a desktop User-Agent.
- :mod:`advocacy_portal.testing.pytest_plugin`: the ``fake_stripe``, ``stripe_client`` and ``stripe_globals``
  fixtures (``pytest_plugins = ["advocacy_portal.testing.pytest_plugin"]``).

Nothing here imports pytest except the plugin module, so the package imports without the test extras.
See ``README.md`` in this folder.
"""
