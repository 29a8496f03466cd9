"""A hung shard (its primary stopped, SIGSTOP: connections open, nothing answered) slows only its own venues' pages:
a call to it is sent once, never again after it timed out (core/storage.py CLUSTER_RETRIED: redis-py retried a
timeout twice, three timeouts a call), and the views answer by the venue's own breaker (portal/errors.py
`views_breaker`), which the probe lane's failures open (a page's do not: it also reads other slots), so the venue's
next pages are a 503 without touching the shard while the other venues' pages keep being answered. Sends to the hung
node are counted; nothing is timed."""

from __future__ import annotations

import os
import signal

import pytest
import redis

from fingerprints.model import Floor, VenueMap
from portal import create_app
from portal.tools.valkey_cluster import start_local_cluster


@pytest.fixture
def hung_shard(settings, tmp_path, monkeypatch):
    """(app, hung venue, live venue, sends to the hung node): an app on a cluster of its own (this test stops a
    primary) whose hung venue's primary holds neither the live venue's slot nor the `{_global}` one."""
    cluster = start_local_cluster(tmp_path / "cluster", replicas=0)
    stopped = None
    try:
        app = create_app(settings.with_(redis_url=cluster.url, data_dir=tmp_path / "var", store_timeout_s=1.0))
        app.extensions["captive"].breaker._wake_prober = None  # no prober races the count
        svc = app.extensions["mallportal"]
        shared = cluster.primary_of("{_global}").port
        by_port: dict[int, str] = {}
        for venue in (f"mall{i}" for i in range(200)):
            by_port.setdefault(cluster.primary_of("{" + venue + "}").port, venue)
        hung = next(v for port, v in by_port.items() if port != shared)
        live = next(v for port, v in by_port.items() if port not in (shared, cluster.primary_of("{" + hung + "}").port))
        for venue in (hung, live):
            svc.venues.put_map(VenueMap(id=venue, name=venue, name_zh=venue, floors=[Floor(0, "G", 50, 30)]))
        client = app.test_client()
        assert client.get(f"/v/{hung}/").status_code == 200 and client.get(f"/v/{live}/").status_code == 200
        stopped = cluster.primary_of("{" + hung + "}")
        sends: list[int] = []
        owner = next(c for c in redis.connection.Connection.__mro__ if "send_packed_command" in vars(c))
        real = owner.send_packed_command

        def counted(self, command, check_health=True):
            if getattr(self, "port", None) == stopped.port:
                sends.append(1)
            return real(self, command, check_health)

        monkeypatch.setattr(owner, "send_packed_command", counted)
        os.kill(stopped.process.pid, signal.SIGSTOP)
        yield app, hung, live, sends
    finally:
        if stopped is not None:
            os.kill(stopped.process.pid, signal.SIGCONT)
        cluster.stop()


def test_a_timed_out_call_is_sent_once(hung_shard):
    app, hung, _live, sends = hung_shard
    db = app.extensions["mallportal"].db
    with pytest.raises(redis.TimeoutError):
        db.get("mp:{" + hung + "}:anything")
    assert len(sends) == 1  # redis-py's Retry(retries=2) sent it three times


def test_the_hung_venues_probes_open_its_own_breaker_only_and_its_pages_answer_by_it(hung_shard):
    app, hung, live, sends = hung_shard
    client = app.test_client()
    breakers = app.extensions["captive"].breaker
    failures_to_open = breakers.failures_to_open
    assert client.get(f"/v/{hung}/").status_code == 503  # a page's failure: counted in no venue's breaker
    assert breakers.open_venues() == []
    for _ in range(failures_to_open):  # the probes' are the venue's slot's: they fail open and open it
        assert client.get(f"/generate_204?venue={hung}&client_mac=02:00:00:00:00:0{_}").status_code == 302
    assert breakers.open_venues() == [hung]
    sent = len(sends)
    assert sent <= failures_to_open + 1  # one send a failed call, none retried
    for _ in range(5):
        assert client.get(f"/v/{hung}/").status_code == 503  # at once: the shard is not asked
        assert client.get(f"/v/{live}/").status_code == 200
    assert len(sends) == sent and breakers.open_venues() == [hung]
