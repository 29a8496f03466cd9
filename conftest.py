"""Shared fixtures: a real embedded Valkey for the session, the app on it, a real gunicorn server,
and a real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import os

# Cheap password hashing in tests (see portal/auth.py), set before anything imports portal.auth: the imports
# below do (portal.tools.net imports the portal package). Until 2026-12-05 it was set after them, so every
# test hashed and verified with the production profile (~0.13 s a login here; tests/security/test_accounts.py
# holds it).
os.environ.setdefault("ARGON2_PROFILE", "test")

import gc  # noqa: E402
import hashlib  # noqa: E402
import itertools  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import weakref  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from types import CodeType  # noqa: E402

import pytest  # noqa: E402
import redis  # noqa: E402
from jinja2 import BytecodeCache, Environment  # noqa: E402
from jinja2.bccache import Bucket  # noqa: E402

from core.memo import BoundedMemo  # noqa: E402
from core.settings import PROJECT_ROOT, Settings  # noqa: E402
from portal.tools.net import free_port, stop_process, wait_for_port  # noqa: E402
from tests import axecheck, schedule  # noqa: E402
from tests.browsers import BROWSER_TIMEOUT_MS, CHROMIUM_ARGS, IPHONE_UA  # noqa: E402


def memoise_url_builders() -> None:
    """Share Flask's compiled URL builders between the suite's apps. Each app compiles one builder per
    route and mode (werkzeug's Rule._compile_builder: ~0.2 s of a ~0.25 s create_app), and some 1,000
    tests build their own app. A builder is a pure function of the rule's parsed parts (it reaches the
    rule's converters through the rule it is bound to), so equal parts can share one; rules with
    defaults (folded in through their converters) are compiled as before."""
    from werkzeug.routing.rules import Rule

    compile_builder = getattr(Rule, "_compile_builder", None)
    if compile_builder is None:  # another werkzeug: nothing to share
        return
    builders: dict[tuple, object] = {}

    def shared_builder(self, append_unknown: bool = True):
        if self.defaults:
            return compile_builder(self, append_unknown)
        key = (self.rule, tuple(self._trace), append_unknown)
        if key not in builders:
            builders[key] = compile_builder(self, append_unknown)
        return builders[key]

    Rule._compile_builder = shared_builder


def memoise_rule_parsing() -> None:
    """Share werkzeug's parse of each URL rule between the suite's apps, as memoise_url_builders shares the
    builders: Rule._parse_rule was ~half of what is left of create_app (~35 ms of ~75 ms of CPU). A rule's
    parts are a pure function of the rule's text and the map's converter classes; what parsing does besides
    (the rule's trace, its converters and arguments) is replayed on each new rule, with converters made
    afresh for its own map."""
    from werkzeug.routing.rules import Rule

    parse_rule = getattr(Rule, "_parse_rule", None)
    if parse_rule is None:  # another werkzeug: nothing to share
        return
    parsed: dict[tuple, tuple] = {}

    def shared_parse(self, rule: str):
        key = (rule, tuple(sorted(self.map.converters.items())))
        if key not in parsed:
            made = []
            get_converter = self.get_converter

            def recording(variable, name, args, kwargs):
                made.append((variable, name, args, kwargs))
                return get_converter(variable, name, args, kwargs)

            self.get_converter = recording
            trace_from = len(self._trace)
            try:
                parts = list(parse_rule(self, rule))
            finally:
                del self.get_converter
            parsed[key] = (parts, self._trace[trace_from:], made)
            return iter(parts)
        parts, trace, made = parsed[key]
        self._trace.extend(trace)
        for variable, name, args, kwargs in made:
            self._converters[variable] = self.get_converter(variable, name, args, kwargs)
            self.arguments.add(variable)
        return iter(parts)

    Rule._parse_rule = shared_parse


class SharedTemplateCode(BytecodeCache):
    """One compiled copy of each template for all the suite's apps (Jinja's own bytecode-cache hook, held in
    memory): each app has its own Jinja environment, so every test compiled afresh each template it rendered
    (a third of a console test's time under cProfile; with memoise_map_parsing, five app test files went from 15.4 s
    to 11.5 s of CPU, 2026-12-07). A template's
    code is a pure function of its source and the options the environment compiles with, so both are in the key;
    the options are the same for every app create_app builds."""

    def __init__(self) -> None:
        self.code: dict[tuple, CodeType] = {}

    @staticmethod
    def _options(environment: Environment, name: str) -> tuple:
        autoescape = environment.autoescape
        return (environment.block_start_string, environment.block_end_string, environment.variable_start_string,
                environment.variable_end_string, environment.comment_start_string,
                environment.comment_end_string, environment.line_statement_prefix,
                environment.line_comment_prefix, environment.trim_blocks, environment.lstrip_blocks,
                environment.newline_sequence, environment.keep_trailing_newline, tuple(sorted(environment.extensions)),
                environment.optimized, environment.is_async, autoescape(name) if callable(autoescape) else autoescape,
                getattr(environment.finalize, "__qualname__", environment.finalize))

    def get_bucket(self, environment: Environment, name: str, filename: str | None, source: str) -> Bucket:
        bucket = Bucket(environment, name, "")
        bucket.shared_key = (self._options(environment, name), name, filename, source)
        bucket.code = self.code.get(bucket.shared_key)
        return bucket

    def set_bucket(self, bucket: Bucket) -> None:
        self.code[bucket.shared_key] = bucket.code


def share_compiled_templates() -> None:
    from flask import Flask

    Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": SharedTemplateCode()}


class ParsedMaps:
    """The venue maps shared_parse handed out, each with the stored JSON's digest it was parsed from and its shape
    then (each list's identity and length, its version, building and positioner settings): a map whose shape is
    unchanged is taken to still be that JSON's. A model is first fitted only from a map equal to the parse it was
    copied from (`pristine`), so a map changed in place before that fit is never stored under the stored JSON's
    digest; one changed in place item by item after it would get the stored map's model (no test does: a test that
    changes a map and builds its model directly builds it from a map made in the test or saves it first)."""

    def __init__(self) -> None:
        self.handed: dict[int, tuple[weakref.ref, bytes, tuple]] = {}
        self.parsed = BoundedMemo(16)  # digest -> the parse the copies were made from (never handed out)

    @staticmethod
    def shape(venue_map) -> tuple:
        lists = (venue_map.floors, venue_map.aps, venue_map.zones, venue_map.nodes, venue_map.edges, venue_map.samples)
        return (venue_map.id, venue_map.version, venue_map.building, repr(venue_map.positioner),
                *((id(items), len(items)) for items in lists))

    def hand_out(self, venue_map, digest: bytes) -> None:
        key = id(venue_map)
        self.handed[key] = (weakref.ref(venue_map, lambda _ref: self.handed.pop(key, None)), digest,
                            self.shape(venue_map))

    def digest_of(self, venue_map) -> bytes | None:
        """The digest of the stored JSON this map was parsed from, while it is as it was handed out."""
        found = self.handed.get(id(venue_map))
        if found is None or found[0]() is not venue_map or found[2] != self.shape(venue_map):
            return None
        return found[1]

    def pristine(self, venue_map, digest: bytes) -> bool:
        """Whether the map is equal, field by field, to the parse of its stored JSON (a few ms: once per model)."""
        parsed = self.parsed.peek(digest)
        return parsed is not None and parsed == venue_map


PARSED_MAPS = ParsedMaps()


def memoise_map_parsing() -> None:
    """Parse each stored venue map's JSON once for the suite's apps (each app's VenueStore memoises its own, so every
    test read the demo map afresh: ~25 ms of CPU, in some 3,000 tests). Each caller gets its own copy (~5 ms), as
    parse_map promises: nothing one test changes in a map reaches another."""
    from fingerprints import store

    parse = store.parse_map

    def shared_parse(raw: bytes):
        digest = hashlib.sha256(raw).digest()
        venue_map = PARSED_MAPS.parsed.get(digest, lambda: parse(raw)).copy()
        PARSED_MAPS.hand_out(venue_map, digest)
        return venue_map

    store.parse_map = shared_parse


def memoise_model_builds() -> None:
    """Fit each stored map's positioning model once for the suite's apps: every test that places a phone had its
    app's ModelCache fit the demo mall's model afresh (~25-45 ms of CPU; 284 fits in tests/captive alone, 13% of its
    time under cProfile). Only a map read from the store and unchanged since (PARSED_MAPS) is looked up, by its JSON's
    digest, the APs left out and the fall-off passed in; the caller gets the model with its own map in it. Its fitted
    parts (positioner, zones, motion, coverage) are shared by the worker's apps: nothing in the code writes to them
    after the fit (their lazy caches are deterministic); a test that monkeypatches one of their methods patches it for
    that test only (tests run one at a time in a worker). Only for ModelCache.get's calls."""
    from dataclasses import replace

    from portal.tracking import models

    build = models.build_venue_model
    fitted = BoundedMemo(32)  # (digest, masked, id of the fall-off) -> (that fall-off, the model); thread-safe
    cache_lookup = models.ModelCache.get.__code__

    def shared_build(venue, masked=frozenset(), falloff=None):
        # only an app's model cache shares: a test calling build_venue_model itself (it imported this wrapper by
        # name) fits its own, as it may count or compare the fits
        digest = PARSED_MAPS.digest_of(venue) if sys._getframe(1).f_code is cache_lookup else None
        if digest is None:
            return build(venue, masked, falloff)
        key = (digest, masked, None if falloff is None else id(falloff))
        entry = fitted.peek(key)
        if entry is None or entry[0] is not falloff:  # (an id reused by another fall-off)
            if not PARSED_MAPS.pristine(venue, digest):
                return build(venue, masked, falloff)
            entry = (falloff, build(venue, masked, falloff))
            fitted.put(key, entry)
        return replace(entry[1], venue=venue)

    models.build_venue_model = shared_build
    shared_build.unshared = build


@pytest.fixture
def unshared_model_builds(monkeypatch) -> None:
    """This test's apps fit their models themselves (memoise_model_builds): for a test that counts the fits."""
    from portal.tracking import models

    monkeypatch.setattr(models, "build_venue_model", getattr(models.build_venue_model, "unshared",
                                                            models.build_venue_model))


@pytest.fixture(autouse=True)
def fixed_visitor_salts() -> Iterator[None]:
    """The day's visitor-count salts (portal.tracking.footfall.new_salt) drawn from a fixed sequence, a new one each
    call, instead of at random: a HyperLogLog counts a few distinct phones exactly only while no two of them hash to
    one register, so a random salt made a test that counts visitors fail about once in some hundreds of runs; with
    the sequence a collision between fixed client ids fails every run or none. A test that pins its own salt still
    does. Its own patch, not the test's `monkeypatch`: a test that calls monkeypatch.undo() keeps the sequence."""
    from portal.tracking import footfall

    drawn = itertools.count()  # next() on a count is one step under the GIL: safe from the tracker's threads too
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(footfall, "new_salt", lambda: f"suite-salt-{next(drawn)}")
        yield


memoise_url_builders()
memoise_rule_parsing()
share_compiled_templates()
memoise_map_parsing()
memoise_model_builds()

# Collect cyclic garbage after 50,000 new objects rather than Python's 700: the suite's workers hold large heaps
# (venue maps, compiled templates, a thousand apps' worth of routes), and each young collection that cascaded into
# a full one walked all of it (~8 ms each under cProfile, charged to whatever allocated next). Five app test files:
# 20.0-25.5 s of CPU with the default, 16.7-17.9 s with this (2026-12-07, two runs each). Only this process's
# collector: the servers the suite starts keep Python's default.
gc.set_threshold(50_000, 20, 100)


# ---- every app's background threads end with what made it ----------------------------------

# The services built while each fixture is being set up (innermost last; a fixture's own dependencies are set up
# inside its setup, so each app is counted to the fixture that made it), and those the running test made itself.
_building: list[list] = []
_test_built: list = []


def close_built_apps() -> None:
    """Have every app a test builds closed (Services.close) when what built it ends: the fixture that made it
    (at its scope's teardown) or else the test. Before, their threads outlived them: store-breaker probes
    pinging Valkeys that earlier tests had shut down (redis-py's retry backoff draws its jitter from `random`,
    which hypothesis then reported as a strategy of another test using the global random), the event writer,
    the webhook sender, the audit backlog. Wraps build_services, which create_app calls, so every one of the
    suite's some 40 ways of building an app is covered without each remembering to close."""
    from portal import bootstrap

    build = bootstrap.build_services

    def recorded(*args, **kwargs):
        services = build(*args, **kwargs)
        (_building[-1] if _building else _test_built).append(services)
        return services

    bootstrap.build_services = recorded


def close_all(built: list) -> None:
    while built:
        built.pop().close(timeout_s=10)  # generous: only a store call in flight is waited for


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef, request):
    built: list = []
    # Registered before the fixture runs, so called after its own teardown (LIFO): a server on its app stops first
    fixturedef.addfinalizer(lambda: close_all(built))
    _building.append(built)
    try:
        return (yield)
    finally:
        _building.pop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    try:
        return (yield)
    finally:
        close_all(_test_built)


close_built_apps()

TEST_SECRET = "test-secret-key-" + "x" * 16
TEST_MAC_KEY = "test-mac-hash-key-" + "y" * 16


# The store the suite runs on: REDIS_URL (with REDIS_CLUSTER=1 for a cluster) when set, else a local
# Valkey started here; TEST_STORE=cluster starts a local 3-primary cluster instead of one node.
EXTERNAL_URL = os.environ.get("REDIS_URL") or None
EXTERNAL_CLUSTER = os.environ.get("REDIS_CLUSTER", "0") not in ("", "0", "false", "no")
LOCAL_CLUSTER = os.environ.get("TEST_STORE") == "cluster"


def start_valkey(tmp_path_factory, name: str):
    from core.storage import start_embedded_valkey

    return start_embedded_valkey(tmp_path_factory.mktemp(name))


@pytest.fixture(scope="session")
def valkey_cluster(tmp_path_factory):
    """A local Valkey Cluster: 3 primaries without replicas (started on first use, ~2 s; a replica
    adds ~5 s to each start and only the failover test needs one: it starts its own cluster)."""
    from portal.tools.valkey_cluster import start_local_cluster

    cluster = start_local_cluster(tmp_path_factory.mktemp("valkey-cluster"), replicas=0)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def store_target(request, tmp_path_factory):
    """(url, cluster?) of the store the suite's `db`, `settings` and `app` use."""
    if EXTERNAL_URL:
        yield EXTERNAL_URL, EXTERNAL_CLUSTER
    elif LOCAL_CLUSTER:
        yield request.getfixturevalue("valkey_cluster").url, True
    else:
        server = start_valkey(tmp_path_factory, "valkey")
        yield server.connection_url + "/0", False
        server.stop()


@pytest.fixture(scope="session")
def redis_url(store_target) -> str:
    return store_target[0]


@pytest.fixture(scope="session")
def settings(store_target, tmp_path_factory) -> Settings:
    return Settings(
        redis_url=store_target[0], redis_cluster=store_target[1], secret_key=TEST_SECRET,
        mac_hash_key=TEST_MAC_KEY, data_dir=tmp_path_factory.mktemp("var"), load_demo=False, testing=True,
        demo=True, webhook_allow_private=True,  # the suite's webhook receivers listen on loopback
        quality_wait_s=600.0,  # the quality page's tests read its figures at once (tests/operator/test_live_jobs.py
        #                        has the page that shows progress, on an estimate it holds back)
    )


@pytest.fixture(scope="session")
def demo_map():
    """The demo mall, built once per session (the survey simulation takes a few seconds)."""
    from fingerprints.demo_mall import build_demo_mall

    return build_demo_mall("demo")


@pytest.fixture
def db(settings) -> redis.Redis:
    from core.storage import connect
    from portal.events.log import write_deferred_events

    client = connect(settings, timeout_s=10)
    write_deferred_events()  # the last test's landing events, written now rather than into this test's store
    client.flushdb()  # on a cluster: every primary
    return client


@pytest.fixture
def app(settings, db):
    from portal import create_app
    from portal.maps import builds

    app = create_app(settings)
    yield app
    builds.join_builds(timeout_s=60)  # a model build the test started ends here, not in the next test
    app.extensions["mallportal"].close(timeout_s=10)  # and its background threads (close_built_apps: any app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def svc(app):
    # No app context is held open here: a test request would then share `g` with every other
    # request of the test (Flask reuses an active app context), which hides per-request bugs.
    return app.extensions["mallportal"]


@pytest.fixture
def demo(app, svc, demo_map):
    """The demo mall loaded into the (flushed) store; returns its API token."""
    from portal.seed import ensure_demo_mall

    if svc.db.dbsize() == 0 and DemoSnapshot.restore(svc):
        return DemoSnapshot.token(svc)
    empty = svc.db.dbsize() == 0
    with app.app_context():
        ensure_demo_mall(svc, "demo", demo_map)
    if empty:
        DemoSnapshot.take(svc)
    return DemoSnapshot.token(svc)


class DemoSnapshot:
    """What ensure_demo_mall leaves in an empty store, kept per worker (the keys, DUMPed, and the secret
    files it writes) and RESTOREd into the next test's flushed store instead of seeding again (~0.5 s a
    test, paid by some 800 tests). Only for an empty store and the same settings; retaken when older
    than MAX_AGE_S (2 min) or when the mall's date has changed, since the seed's showtimes, sales and parking
    events are placed relative to its time."""

    MAX_AGE_S = 120.0
    SECRET_FILES = ("demo_api_token", "demo_meraki_validator", "demo_meraki_secret")
    taken: list[tuple[Settings, float, str, dict[bytes, tuple[int, bytes]], dict[str, bytes]]] = []

    @staticmethod
    def _mall_date() -> str:
        import datetime
        import zoneinfo

        from portal.seed import DEMO_TIME_ZONE

        zone = zoneinfo.ZoneInfo(DEMO_TIME_ZONE)
        return f"{datetime.datetime.now(zone).date()} {datetime.date.today()}"

    @classmethod
    def take(cls, svc) -> None:
        keys = {}
        for key in svc.db.scan_iter(count=1000):
            keys[key] = (max(svc.db.pttl(key), 0), svc.db.dump(key))
        secrets = svc.settings.data_dir / "secrets"
        files = {name: (secrets / name).read_bytes() for name in cls.SECRET_FILES}
        cls.taken[:] = [t for t in cls.taken if t[0] != svc.settings]
        cls.taken.append((svc.settings, time.monotonic(), cls._mall_date(), keys, files))

    @classmethod
    def restore(cls, svc) -> bool:
        found = next((t for t in cls.taken if t[0] == svc.settings), None)
        if found is None or time.monotonic() - found[1] > cls.MAX_AGE_S or found[2] != cls._mall_date():
            return False
        _, _, _, keys, files = found
        with svc.db.pipeline(transaction=False) as pipe:
            for key, (ttl_ms, value) in keys.items():
                pipe.restore(key, ttl_ms, value, replace=True)
            pipe.execute()
        secrets = svc.settings.data_dir / "secrets"
        secrets.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (secrets / name).write_bytes(content)
        return True

    @staticmethod
    def token(svc) -> str:
        return (svc.settings.data_dir / "secrets" / "demo_api_token").read_text()


@pytest.fixture
def console(client, demo):
    """Log `client` into the console as a demo account: `console.login("cinema")`; then
    `console.csrf()` gives a valid CSRF token for form posts (as a browser would have from the page)."""
    import re

    class Console:
        def login(self, username: str, password: str = "mallportal-demo"):
            resp = client.post("/console/login", data={"username": username, "password": password,
                                                       "csrf_token": self.csrf()})
            assert resp.status_code == 303, resp.status_code
            return resp

        def csrf(self) -> str:
            page = client.get("/console/login").get_data(as_text=True)
            return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

        def logout(self):
            return client.post("/console/logout", data={"csrf_token": self.csrf()})

    return Console()



@pytest.fixture
def ops(client, console):
    """`client` logged into the console as the demo's operator (`ops.csrf()` for form posts)."""
    console.login("ops")
    return console

# ---- a real server -------------------------------------------------------------------------




class LiveServer:
    def __init__(self, url: str, redis_url: str, settings: Settings, env: dict[str, str]) -> None:
        self.url = url
        self.redis_url = redis_url
        self.settings = settings
        self.env = env  # the server process's environment (a second_server starts with it)

    def db(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)

    def shopper_tokens(self, venue: str, clients) -> list[str]:
        """Tokens for these shopper ids, minted in the server's store (shopper tokens mean something only
        through their record there)."""
        from portal.shopper import Shopper, ShopperTokenStore

        store = ShopperTokenStore(self.db(), self.settings.shopper_token_ttl_s, self.settings.secret_key)
        return [store.mint(Shopper(venue, client)) for client in clients]


@pytest.fixture(scope="session")
def live_valkey(tmp_path_factory):
    """The live server's own Valkey (not a second database, which a cluster would refuse)."""
    server = start_valkey(tmp_path_factory, "live-valkey")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def live_server(live_valkey, demo_map, tmp_path_factory):
    """gunicorn serving the app on its own Valkey, the demo mall loaded once."""
    from portal import create_app
    from portal.seed import ensure_demo_mall
    from portal.services import services

    url = live_valkey.connection_url + "/0"
    data_dir = tmp_path_factory.mktemp("live-var")
    settings = Settings(redis_url=url, secret_key=TEST_SECRET, mac_hash_key=TEST_MAC_KEY,
                        data_dir=data_dir, load_demo=False, testing=False, demo=True)
    with create_app(settings).app_context():
        ensure_demo_mall(services(), "demo", demo_map)
    env = {**os.environ, "REDIS_URL": url, "SECRET_KEY": TEST_SECRET, "MAC_HASH_KEY": TEST_MAC_KEY,
           "PHONE_KEY": settings.phone_key, "DATA_DIR": str(data_dir), "LOAD_DEMO": "0", "VENUE": "demo", "DEMO": "1",
           "QUALITY_WAIT_S": "600"}
    proc, server_url = start_gunicorn(env)
    try:
        yield LiveServer(server_url, url, settings, env)
    finally:
        stop_process(proc)


def start_gunicorn(env: dict[str, str], workers: int = 2) -> tuple[subprocess.Popen, str]:
    """gunicorn serving wsgi:app with this environment on a free loopback port, once it accepts."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--threads", "16", "--worker-class", "gthread", "--log-level", "warning"],
        cwd=PROJECT_ROOT, env=env,
    )
    try:
        wait_for_port(port)
    except BaseException:
        stop_process(proc)
        raise
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture
def second_server(live_server):
    """A second gunicorn on the live server's store and settings, on its own port (so its own origin), that a
    test may stop: a network really gone, which no browser emulation has to reach."""
    proc, url = start_gunicorn(live_server.env, workers=1)
    try:
        yield url, lambda: stop_process(proc)
    finally:
        stop_process(proc)


# ---- a real browser ------------------------------------------------------------------------

# CHROMIUM_ARGS and BROWSER_TIMEOUT_MS: tests/browsers.py (the fake-camera Chromium launches with them too).



@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    from portal.tools.ensure_chromium import find_chromium

    executable = find_chromium()
    if executable is None:
        pytest.fail("Chromium not found: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        open_context = chromium.new_context

        def new_context(**options):
            context = open_context(**options)
            context.set_default_timeout(BROWSER_TIMEOUT_MS)
            context.javascript_off = options.get("java_script_enabled") is False  # tests/axecheck.py replays those
            return context

        chromium.new_context = new_context  # tests that open their own contexts get the same patience
        axecheck.watch(chromium)  # axe-core on every page the tests leave: zero serious/critical findings
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def iphone_page(browser):
    """Like the iOS captive mini-browser: iPhone UA and viewport, cookies not kept between pages."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, user_agent=IPHONE_UA,
                                  is_mobile=True, has_touch=True, device_scale_factor=3)
    page = context.new_page()
    yield page
    context.close()


# What a test marked single_node does to the store (a stalled or refused connection, a script the server lost, KEYS
# over one server) has no one-server meaning on a cluster; tests/cluster/ and tests/faults/ cover the cluster's faults.
ON_CLUSTER_SKIP = pytest.mark.skip(
    reason="single_node: the suite's store is a cluster (TEST_STORE=cluster or REDIS_CLUSTER=1)")


def pytest_collection_modifyitems(config, items):
    on_cluster = EXTERNAL_CLUSTER if EXTERNAL_URL else LOCAL_CLUSTER
    for item in items:
        if {"browser", "page", "iphone_page"} & set(item.fixturenames):
            item.add_marker(pytest.mark.browser)
        if on_cluster and item.get_closest_marker("single_node"):
            item.add_marker(ON_CLUSTER_SKIP)
    schedule.longest_files_first(items)  # for the xdist workers of `make test` (tests/schedule.py)
