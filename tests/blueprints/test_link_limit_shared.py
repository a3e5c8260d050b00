"""The referral redirect's per-IP limit shared by every worker through Redis (the precount limiter).

Each worker process counts in memory and sends its new hits to the storage in the background; two
:class:`PrecountLimiter` objects with one key prefix are two workers of one site.
"""

from __future__ import annotations

import uuid

import pytest
import redis

from advocacy_portal.blueprints.ratelimit import PrecountLimiter

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    yield client
    client.close()


@pytest.fixture
def workers(app, redis_client):
    """Two workers' limiters of one site, on a key prefix of this test only."""
    prefix = f"advocacy-test-{uuid.uuid4().hex[:10]}"
    app.config["ADVOCACY_LINK_FOLLOW_LIMIT"] = "5 per minute"
    # A sync interval the test never waits for: it syncs by hand, so nothing races it.
    limiters = [PrecountLimiter(app, "LINK_FOLLOW_LIMIT", REDIS_URL, prefix, 3600) for _ in range(2)]
    yield limiters
    for key in redis_client.scan_iter(f"{prefix}*"):
        redis_client.delete(key)


def test_two_workers_share_one_count_and_refuse_past_the_limit_together(workers, redis_client):
    first, second = workers
    for _ in range(3):
        assert first.hit("ip:203.0.113.7") is None
    first.sync()
    for _ in range(2):
        assert second.hit("ip:203.0.113.7") is None
    second.sync()  # sends its two and learns the first worker's three
    # Five hits in the window between them: the second worker refuses the sixth, with the seconds
    # left to wait.
    retry_after = second.hit("ip:203.0.113.7")
    assert retry_after is not None and 0 < retry_after <= 60
    # A worker learns the others' hits when it sends its own, so the limit is exceeded by at most
    # what each worker counts between two syncs: the first lets one more through, then refuses too.
    assert first.hit("ip:203.0.113.7") is None
    first.sync()
    assert first.hit("ip:203.0.113.7") is not None
    # Another visitor is not affected.
    assert second.hit("ip:203.0.113.8") is None


def test_the_storage_key_expires_with_its_window_and_counts_every_hit_once(workers, redis_client):
    first, _second = workers
    for _ in range(2):
        first.hit("ip:198.51.100.4")
    first.sync()
    first.hit("ip:198.51.100.4")
    first.sync()  # the second send of the key: its expiry is not sent again, and still holds
    first.sync()  # nothing new: nothing sent
    keys = list(redis_client.scan_iter(f"{first.prefix}*198.51.100.4*"))
    assert len(keys) == 1
    assert int(redis_client.get(keys[0])) == 3
    assert 0 < redis_client.ttl(keys[0]) <= 61


def test_hits_not_sent_during_an_outage_are_sent_with_their_expiry_afterwards(workers, redis_client):
    first, _second = workers
    first.hit("ip:192.0.2.55")
    first.storage_uri = "redis://127.0.0.1:1/0"  # nothing listens there
    first._storage = None
    with pytest.raises(Exception):
        first.sync()
    first.storage_uri = REDIS_URL
    first._storage = None
    first.hit("ip:192.0.2.55")
    first.sync()
    keys = list(redis_client.scan_iter(f"{first.prefix}*192.0.2.55*"))
    assert len(keys) == 1
    assert int(redis_client.get(keys[0])) == 2  # both hits, once each
    assert 0 < redis_client.ttl(keys[0]) <= 61  # and the key still got its expiry
