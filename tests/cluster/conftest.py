"""The cluster tests: the same fixtures as the suite (`settings`, `db`, `app`, `svc`, `demo`, ...) on
a local 3-primary Valkey Cluster (no replicas: the failover test starts its own), whatever store the
rest runs on."""

from __future__ import annotations

import sys

import pytest
import redis

from core.settings import PROJECT_ROOT, Settings

# test_cluster_<app>_store.py import the light apps' store tests, which import their sibling fixture
# modules (parking_fixtures, ...) by bare name, as pytest's rootdir-relative import lets them at home.
for _folder in sorted((PROJECT_ROOT / "lightapps").glob("*/tests")):
    sys.path.append(str(_folder))


@pytest.fixture(scope="session")
def settings(settings, valkey_cluster, tmp_path_factory) -> Settings:
    """The suite's settings on a cluster: REDIS_URL's when it names one, else the local one."""
    url = settings.redis_url if settings.redis_cluster else valkey_cluster.url
    return settings.with_(redis_url=url, redis_cluster=True, data_dir=tmp_path_factory.mktemp("cluster-var"))


@pytest.fixture(scope="session")
def redis_url(settings) -> str:
    return settings.redis_url


@pytest.fixture
def db(settings):
    from core.storage import connect

    client = connect(settings, timeout_s=10)
    client.flushdb()  # every primary
    return client


def venues_on_each_primary(db, count: int = 3) -> list[str]:
    """`count` venue ids whose `{venue}` slots are held by `count` different primaries."""
    found: dict[str, str] = {}
    for i in range(1000):
        venue = f"mall{i}"
        node = db.nodes_manager.get_node_from_slot(db.keyslot("{" + venue + "}")).name
        found.setdefault(node, venue)
        if len(found) == count:
            return sorted(found.values())
    raise AssertionError("the cluster has fewer primaries than venues asked for")


@pytest.fixture(autouse=True)
def clients_are_cluster_clients(settings, monkeypatch):
    """The light apps' race tests open a client per thread with redis.Redis.from_url(redis_url), as
    another process would: on a cluster, that process has a cluster client. One, shared: its pools
    still give each thread its own connection, without 200 reads of the slot map."""
    from core.storage import connect

    shared = connect(settings, timeout_s=10)
    monkeypatch.setattr(redis.Redis, "from_url", classmethod(lambda cls, url, **kw: shared))


def pytest_collection_modifyitems(items):
    """The check that a rerun module reached every store method (tests.cluster.store_paths) runs after
    the module's own tests, wherever they are defined."""
    last = [item for item in items if item.name == "test_every_store_method_ran_on_the_cluster"]
    items[:] = [item for item in items if item not in last] + last
