"""The suite's fixtures are plugins: the plugin's own testing kit, and the fixtures of this suite."""

pytest_plugins = [
    "advocacy_portal.testing.pytest_plugin",
    "tests.fixtures",
    "tests.webhook_receiver",
]
