"""The plugin's rate limits (Flask-Limiter), kept away from the host's routes and the host's limiter.

Each app gets a limiter of its own, created when the first limited blueprint is registered. It reads
only ``ADVOCACY_*`` settings (storage, key prefix, limits): the host's ``RATELIMIT_*`` defaults and
application limits never apply through it, and it ignores every request outside the plugin's
blueprints. A storage outage (Redis down) falls back to in-memory counting instead of failing requests.

Flask-Limiter hooks itself into every request of the app (before, after and teardown). The plugin's
limiter is moved off the app onto the blueprints it limits (:func:`limit_blueprint`), so the host's
routes and the precounted ones (the referral redirect, the widget: :func:`precount_blueprint`) never
run its hooks at all.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import weakref

from flask import current_app
from flask import request
from limits import parse_many
from limits.storage import storage_from_string
import redis
from werkzeug.exceptions import TooManyRequests
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from flask_login import current_user

from advocacy_portal.config import config_value
from advocacy_portal.proxies import app_object
from advocacy_portal.proxies import current_portal
from advocacy_portal.proxies import get_portal


def _key_prefix(app) -> str:
    configured = app.config["ADVOCACY_RATELIMIT_KEY_PREFIX"]
    if configured:
        return configured
    # One deployment = one database: two sites (or two test databases) sharing a Redis never share
    # counters, while every worker of one site does.
    database = str(app.config.get("SQLALCHEMY_DATABASE_URI", ""))
    return "advocacy-" + hashlib.sha256(database.encode()).hexdigest()[:12]


def customer_or_ip() -> str:
    """Rate-limit key: the logged-in customer, else the client IP."""
    if getattr(current_app, "login_manager", None) is not None and current_user.is_authenticated:
        customer = current_portal.identify(current_user._get_current_object())
        if customer is not None:
            return f"user:{customer.id}"
    return f"ip:{get_remote_address()}"


def get_limiter(app) -> Limiter | None:
    """The app's plugin limiter, created on first use; ``None`` when ``ADVOCACY_RATELIMIT_ENABLED``
    is off."""
    state = get_portal(app).state(app)
    if state.limiter_ready:
        return state.limiter
    limiter = None
    if app.config["ADVOCACY_RATELIMIT_ENABLED"]:
        limiter = Limiter(
            get_remote_address,
            storage_uri=app.config["ADVOCACY_RATELIMIT_STORAGE_URI"],
            key_prefix=_key_prefix(app),
            strategy="moving-window",
            headers_enabled=True,
            swallow_errors=True,
            in_memory_fallback_enabled=True,
            # The host's RATELIMIT_DEFAULT / RATELIMIT_APPLICATION are the host's limiter's business.
            default_limits_exempt_when=lambda: True,
            application_limits_exempt_when=lambda: True,
        )
        limiter.request_filter(_outside_the_plugin)
        # Flask-Limiter reads RATELIMIT_ENABLED from the app; keep a host's own switch as it is.
        had_switch = "RATELIMIT_ENABLED" in app.config
        limiter.init_app(app)
        if not had_switch:
            app.config.pop("RATELIMIT_ENABLED", None)
        state.limiter_hooks = _take_app_hooks(app, limiter)
    state.limiter, state.limiter_ready = limiter, True
    return limiter


def _take_app_hooks(app, limiter: Limiter) -> tuple:
    """Take the app-wide before/after/teardown hooks ``limiter.init_app`` added off the app, so they
    run only on the blueprints :func:`_hook_blueprint` gives them to."""
    before = limiter._check_request_limit

    def ours(function) -> bool:
        # The after hook is ``partial(Limiter.__inject_headers, limiter)``, the others bound methods.
        return getattr(function, "__self__", None) is limiter or getattr(function, "args", None) == (limiter,)

    taken = []
    for registry in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        functions = registry.get(None, [])
        mine = [function for function in functions if ours(function)]
        registry[None] = [function for function in functions if not ours(function)]
        taken.append(mine)
    if not any(function == before for function in taken[0]):  # pragma: no cover - a Flask-Limiter change
        raise RuntimeError("Flask-Limiter's request hooks were not found on the app")
    return tuple(taken)


def _hook_blueprint(app, name: str, hooks: tuple) -> None:
    """Run the limiter's hooks on blueprint ``name``'s requests: before the blueprint's own before
    hooks (as an app-wide hook would), after and teardown last."""
    before, after, teardown = hooks
    for registry, functions in ((app.before_request_funcs, before), (app.after_request_funcs, after),
                                (app.teardown_request_funcs, teardown)):
        present = registry.setdefault(name, [])
        for function in reversed(functions):
            if function not in present:
                present.insert(0, function)


def _outside_the_plugin() -> bool:
    blueprint = request.blueprint or ""
    return not blueprint.startswith("advocacy_") or blueprint in _PRECOUNTED


def limit_blueprint(bp, setting: str, *, methods: list[str], key_func=None, message: str) -> None:
    """Limit the ``methods`` requests of ``bp`` to the rate in setting ``setting``, per ``key_func``
    (IP address by default); a breach answers 429 with ``message``."""

    def _register(state):
        limiter = get_limiter(state.app)
        if limiter is None:
            return
        _hook_blueprint(state.app, state.name, get_portal(state.app).state(state.app).limiter_hooks)
        limiter.limit(
            lambda: config_value(setting),
            methods=methods,
            key_func=key_func or get_remote_address,
            error_message=message,
        )(bp)

    bp.record_once(_register)


# -- the redirect's limit: counted in the process, shared through the storage ------------------------
#
# Flask-Limiter asks its storage on every request (a moving window: a script run in Redis, and a second
# round trip for the headers), which on the redirect cost more than the rest of the request. The link
# limit is counted in each process instead, in fixed windows, and every ``ADVOCACY_RATELIMIT_SYNC_MS``
# a thread adds each key's new hits to the shared storage in one pipeline and learns the other
# processes' counts. A process never waits on the storage; across processes the limit may let through
# up to one sync interval's hits per process more than it says. With ``memory://`` the counts are the
# process's own, as they are under Flask-Limiter's memory storage.

log = logging.getLogger(__name__)

#: Blueprints limited by :func:`precount_blueprint` (Flask-Limiter leaves them alone).
_PRECOUNTED: set[str] = set()


class PrecountLimiter:
    """Fixed-window counters of one limit setting in one process, synchronised with the storage."""

    def __init__(self, app, setting: str, storage_uri: str, prefix: str, sync_seconds: float):
        self._app = weakref.ref(app)
        self.setting = setting
        self.storage_uri = storage_uri
        self.prefix = f"{prefix}/precount/{setting.lower()}"
        self.sync_seconds = sync_seconds
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        #: storage key -> (window end (epoch seconds), hits not yet sent, the storage's count, whether
        #: the storage was given the key's expiry). Tuples, not lists: a tuple of numbers is not
        #: tracked by the garbage collector, so thousands of visitors' counts cost no collection time.
        self._counts: dict[str, tuple] = {}
        #: The keys with hits not yet sent: a sync looks at these only, not at every visitor's key.
        self._dirty: set[str] = set()
        self._storage = None
        self._script = None
        self._thread = None
        self._forgotten_at = 0.0

    def _limits(self):
        app = self._app()
        value = app.config[PREFIX_KEY + self.setting] if app is not None else None
        if not value:
            return ()
        cached = getattr(self, "_parsed", None)
        if cached is None or cached[0] != value:
            # (amount, window seconds, the start of its storage keys), worked out once per setting
            plan = tuple(
                (item.amount, item.get_expiry(), f"{self.prefix}/{item.amount}/{item.get_expiry()}/")
                for item in parse_many(value)
            )
            cached = self._parsed = (value, plan)
        return cached[1]

    def hit(self, identity: str) -> float | None:
        """Count one request of ``identity``: ``None`` when it is within every limit, else the
        seconds until the window that refused it ends."""
        if os.getpid() != self._pid:
            self._reset()
        now = time.time()
        refused = None
        limits = self._limits()
        counts = self._counts
        with self._lock:
            found = []
            for amount, expiry, start in limits:
                window = int(now // expiry)
                key = f"{start}{identity}/{window}"
                entry = counts.get(key) or ((window + 1) * expiry, 0, 0, False)
                if entry[1] + entry[2] >= amount:
                    refused = max(refused or 0.0, entry[0] - now)
                found.append((key, entry))
            if refused is None:
                for key, (end, unsent, known, given) in found:
                    counts[key] = (end, unsent + 1, known, given)
                    self._dirty.add(key)
        if self._thread is None:
            if not self.storage_uri.startswith("memory"):
                self._start()
            elif len(counts) > 10_000:
                self._forget_ended(now)
        return refused

    def _forget_ended(self, now: float) -> None:
        with self._lock:
            for key in [key for key, entry in self._counts.items() if entry[0] <= now]:
                del self._counts[key]
                self._dirty.discard(key)

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="advocacy-rate-limit", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        pid = self._pid
        while os.getpid() == pid:
            time.sleep(self.sync_seconds)
            try:
                self.sync()
            except Exception:  # noqa: BLE001 - a storage outage: keep counting in the process
                log.warning("Could not share the link rate-limit counts with %s", self.storage_uri,
                            exc_info=True)

    def sync(self) -> None:
        """Send every key's new hits to the storage and learn each key's total."""
        now = time.time()
        if now - self._forgotten_at >= 1.0:  # windows end on whole seconds: once a second is enough
            self._forget_ended(now)
            self._forgotten_at = now
        counts = self._counts
        with self._lock:
            dirty, self._dirty = self._dirty, set()
            # (key, hits to add, seconds to keep it, whether the storage was given them already)
            batch = []
            for key in dirty:
                entry = counts.get(key)
                if entry is None or not entry[1]:
                    continue
                end, unsent, known, given = entry
                batch.append((key, unsent, int(end - now) + 1, given))
                counts[key] = (end, 0, known, True)
        if not batch:
            return
        try:
            totals = self._send(batch)
        except Exception:
            with self._lock:  # not sent: count them again next time (and give the expiry again)
                for key, sent, _expiry, given in batch:
                    entry = counts.get(key)
                    if entry is not None:
                        counts[key] = (entry[0], entry[1] + sent, entry[2], given)
                        self._dirty.add(key)
            raise
        with self._lock:
            for (key, _sent, _expiry, _given), total in zip(batch, totals):
                entry = counts.get(key)
                if entry is not None:
                    counts[key] = (entry[0], entry[1], max(entry[2], int(total)), entry[3])

    def _send(self, batch: list) -> list[int]:
        if self._storage is None:
            self._storage = storage_from_string(self.storage_uri)
        client = getattr(self._storage, "storage", None)
        if isinstance(client, redis.Redis):
            # One script call per sync on a single Redis: every key's INCRBY, and its EXPIRE with its
            # first hits from this process only (it never changes, and the key names its window, so
            # no later count can keep it past it). One command instead of two per key.
            script = self._script
            if script is None or script.registered_client is not client:
                script = self._script = client.register_script(_SYNC_SCRIPT)
            totals = []
            for start in range(0, len(batch), _SCRIPT_BATCH):
                chunk = batch[start:start + _SCRIPT_BATCH]
                arguments = []
                for _key, sent, expiry, given in chunk:
                    arguments += (sent, 0 if given else expiry)
                totals += script(keys=[key for key, *_rest in chunk], args=arguments)
            return totals
        if client is not None and hasattr(client, "pipeline"):  # Redis Cluster, Sentinel: a pipeline
            pipe = client.pipeline(transaction=False)
            for key, sent, expiry, given in batch:
                pipe.incrby(key, sent)
                if not given:
                    pipe.expire(key, expiry)
            results = iter(pipe.execute())
            totals = []
            for _key, _sent, _expiry, given in batch:
                totals.append(next(results))  # the INCRBY's total
                if not given:
                    next(results)  # the EXPIRE's answer
            return totals
        return [self._storage.incr(key, expiry, amount=sent) for key, sent, expiry, _given in batch]


#: The keys one sync script call carries at most (a long call would hold up Redis for everyone).
_SCRIPT_BATCH = 1000

#: KEYS: the counters; ARGV: per key, the hits to add and the seconds to keep it (0: it has them).
_SYNC_SCRIPT = """
local totals = {}
for i, key in ipairs(KEYS) do
  totals[i] = redis.call('INCRBY', key, ARGV[2 * i - 1])
  local expiry = tonumber(ARGV[2 * i])
  if expiry > 0 then
    redis.call('EXPIRE', key, expiry)
  end
end
return totals
"""


PREFIX_KEY = "ADVOCACY_"


def precount_blueprint(bp, setting: str, *, methods: list[str], message: str) -> None:
    """Limit the ``methods`` requests of ``bp`` per client IP to the rate in setting ``setting``,
    counted in the process and shared through ``ADVOCACY_RATELIMIT_STORAGE_URI`` every
    ``ADVOCACY_RATELIMIT_SYNC_MS`` (see above); a breach answers 429 with ``message``."""
    _PRECOUNTED.add(bp.name)
    allowed = frozenset(method.upper() for method in methods)

    def _register(state):
        app = state.app
        if not app.config["ADVOCACY_RATELIMIT_ENABLED"]:
            return
        limiter = PrecountLimiter(
            app,
            setting,
            app.config["ADVOCACY_RATELIMIT_STORAGE_URI"],
            _key_prefix(app),
            app.config["ADVOCACY_RATELIMIT_SYNC_MS"] / 1000,
        )
        get_portal(app).state(app).precount_limiters[setting] = limiter

    def _check():
        req = request._get_current_object()
        if req.method not in allowed:
            return None
        app = app_object()
        limiter = get_portal(app).state(app).precount_limiters.get(setting)
        if limiter is None or not app.config["ADVOCACY_RATELIMIT_ENABLED"]:
            return None
        retry_after = limiter.hit(f"ip:{get_remote_address()}")
        if retry_after is not None:
            raise TooManyRequests(description=message, retry_after=max(1, int(retry_after + 0.999)))
        return None

    bp.record_once(_register)
    bp.before_request(_check)
