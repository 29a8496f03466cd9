"""WiFiDog's redemption on a real Valkey Cluster, the demo mall's phones spread over 8 buckets: the ticket, the
held token and the session are written in one script, in the phone's bucket's slot (a cluster refuses a script
over two); a ticket bound to an address is claimed in the venue's slot first."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from core.storage import is_cluster, set_phone_buckets
from portal.captive.sessions import SessionKeys
from tests.captive.test_captive_gateways import configure
from tests.captive.test_gateway_state import session_of
from tests.captive.test_wifidog import GATEWAY, REDIRECT, answer, auth, continue_to_gateway


@pytest.fixture
def app(settings, db):
    from portal import create_app

    yield create_app(settings.with_(phone_buckets=(("demo", 8),)))
    set_phone_buckets({})


def test_wifidog_sign_ins_on_a_cluster_by_mac_and_by_address(client, demo, svc):
    assert is_cluster(svc.db)
    configure(client, wifidog_gateways=GATEWAY)
    phones = [f"02:00:5e:00:55:{n:02x}" for n in range(6)]
    sessions = [SessionKeys("demo").session(svc.hasher.client_id(mac)) for mac in phones]
    owners = {svc.db.nodes_manager.get_node_from_slot(svc.db.keyslot(key)).name for key in sessions}
    assert len(owners) > 1  # the phones' buckets lie on several primaries
    for n, mac in enumerate(phones):
        ip = f"192.168.1.{100 + n}"
        by_mac = n % 2 == 0
        params = {**REDIRECT, "mac": mac, "ip": ip} if by_mac else {k: v for k, v in {**REDIRECT, "ip": ip}.items()
                                                                       if k != "mac"}
        landed = client.get("/wifidog/login/?" + urlencode(params))
        assert landed.status_code == 302
        token = continue_to_gateway(client, landed)
        assert answer(auth(client, "login", token, mac=mac, ip=ip)) == "Auth: 1\n"
        assert session_of(client, mac).ip == ip
        assert answer(auth(client, "counters", token, mac=mac, ip=ip)) == "Auth: 1\n"
