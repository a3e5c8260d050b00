"""The suite's fixtures are plugins: the plugin's own testing kit, and the fixtures of this suite."""

pytest_plugins = [
    "advocacy_portal.testing.pytest_plugin",
    "tests.fixtures",
    "tests.webhook_receiver",
]

#: A shop of its own, with its own suite: copied to a temporary folder and run by tests/test_host_shop.py.
collect_ignore = ["host_shop"]

#: The tests that take longest (tens of seconds each: state machines, route walks, whole-page browser
#: walks, installs into throwaway venvs), by node id prefix. They run first, so that pytest-xdist's two
#: workers end together instead of one finishing a long test alone at the end of the run.
LONG_FIRST = (
    "tests/services/test_ledger_invariants.py",
    "tests/test_route_fuzz.py",
    "tests/browser/test_customer_pages.py",
    "tests/test_packaging.py",
    "tests/browser/test_nps_loop.py",
    "tests/browser/test_staff_pages.py",
    "tests/services/test_outbox.py",
    "tests/test_host_shop.py",
    "tests/blueprints/test_api_fuzz.py",
    "tests/test_json_fuzz.py",
    "tests/browser/",
    "tests/test_queue_adapters.py",
)


def _rank(item) -> int:
    for rank, prefix in enumerate(LONG_FIRST):
        if item.nodeid.startswith(prefix):
            return rank
    return len(LONG_FIRST)


def pytest_collection_modifyitems(config, items):
    items.sort(key=_rank)  # stable: the order within each group is kept
