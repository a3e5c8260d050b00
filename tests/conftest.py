"""The suite's fixtures are plugins: the plugin's own testing kit, and the fixtures of this suite."""

pytest_plugins = [
    "advocacy_portal.testing.pytest_plugin",
    "tests.fixtures",
    "tests.webhook_receiver",
]

#: A shop of its own, with its own suite: copied to a temporary folder and run by tests/test_host_shop.py.
collect_ignore = ["host_shop"]
