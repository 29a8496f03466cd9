"""Web Push end to end: a shopper subscribes through the endpoint (bearer-token bound), an app notifies, the
worker delivers to a local push service over loopback, which checks what a real one checks (the VAPID JWT
signed by our key for its origin) and decrypts the payload with the browser's keys. Then the subscribe
endpoint's bad input and who may call it."""

from __future__ import annotations

import base64
import json
import time

import http_ece
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from core.security import vapid_public_key
from portal.apps.notify import notify
from portal.notify.outbox import Outbox
from portal.notify.webpush import WebPushChannel
from portal.notify.worker import NotifyWorker
from portal.shopper import Shopper, token_store

NOW = 1_800_000_000.0


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_for(app, client="s-1", venue="demo") -> str:
    return token_store(app).mint(Shopper(venue=venue, client=client))


def subscribe(client, token, body, venue="demo"):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(f"/api/v1/venues/{venue}/notify/push", json=body, headers=headers)


def check_vapid(headers: dict, audience: str, public_key: str) -> dict:
    """What a push service does with the Authorization header (RFC 8292): `vapid t=<JWT>, k=<key>`, the
    JWT ES256-signed by that key, for this origin, not expired. Returns the claims."""
    scheme, _, params = headers["authorization"].partition(" ")
    assert scheme == "vapid"
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert fields["k"] == public_key
    head, claims, signature = fields["t"].split(".")
    raw = unb64(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(public_key))
    key.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))  # InvalidSignature if forged
    assert json.loads(unb64(head))["alg"] == "ES256"
    decoded = json.loads(unb64(claims))
    assert decoded["aud"] == audience and decoded["exp"] > time.time() and decoded["sub"] == "mailto:ops@portal.test"
    return decoded


def test_push_end_to_end(app, client, svc, db, push_service, new_browser, demo):
    browser = new_browser()
    public_key = vapid_public_key(svc.settings.notify.vapid_private_key)
    assert client.get("/api/v1/venues/demo/notify/push/key").json["key"] == public_key
    response = subscribe(client, token_for(app), {"subscription": browser.subscription(f"{push_service.url}/push/abc"),
                                                  "lang": "zh"})
    assert response.status_code == 201
    with app.test_request_context():
        assert notify("demo", "s-1", "cinema.ticket", {"title_en": "Your ticket", "title_zh": "您的电影票",
                                                       "body_zh": "1号厅 F7", "path": "/v/demo/cinema/cinema"})
    NotifyWorker(db, svc.settings, [WebPushChannel(svc.settings.notify)]).drain("demo", now=NOW)

    [received] = push_service.received
    assert received.path == "/push/abc"
    check_vapid(received.headers, push_service.url, public_key)
    assert received.headers["content-encoding"] == "aes128gcm" and int(received.headers["ttl"]) > 0
    payload = json.loads(http_ece.decrypt(received.body, private_key=browser.key, auth_secret=browser.auth,
                                          version="aes128gcm"))
    assert payload["title"] == "您的电影票" and payload["body"] == "1号厅 F7" and payload["tag"] == "cinema.ticket"
    assert payload["url"].startswith("https://portal.test/v/demo/cinema/cinema?c=")
    assert Outbox(db).stats("demo")["sent.push"] == 1
    with pytest.raises(AssertionError):  # signed by our key, not by any other
        check_vapid(received.headers, push_service.url, vapid_public_key("P8VYdzUcEZb1hX-WomDvTfS7p4aH1OGrEbk_BYqwZKc"))


def test_push_service_failure_is_retried_then_dead_lettered(app, client, svc, db, push_service, new_browser, demo,
                                                            contacts):
    push_service.status["/push/down"] = 503
    subscribe(client, token_for(app), {"subscription": new_browser().subscription(f"{push_service.url}/push/down")})
    with app.test_request_context():
        notify("demo", "s-1", "queue.called", {"title_en": "Table ready"})
    worker = NotifyWorker(db, svc.settings, [WebPushChannel(svc.settings.notify)])
    for hours in range(4):
        worker.drain("demo", now=NOW + hours * 3600)
    assert len(push_service.received) == 3  # NOTIFY_MAX_ATTEMPTS in these tests
    [letter] = Outbox(db).dead_letters("demo")
    assert letter.job.channel == "push" and "503" in letter.error
    assert contacts.get("demo", "s-1").push  # a server error does not drop the subscription


def test_gone_subscription_is_forgotten(app, client, svc, db, push_service, new_browser, demo, contacts):
    push_service.status["/push/gone"] = 410
    subscribe(client, token_for(app), {"subscription": new_browser().subscription(f"{push_service.url}/push/gone")})
    with app.test_request_context():
        notify("demo", "s-1", "queue.called", {"title_en": "Table ready"})
    NotifyWorker(db, svc.settings, [WebPushChannel(svc.settings.notify)]).drain("demo", now=NOW)
    assert contacts.get("demo", "s-1").push == {}
    stats = Outbox(db).stats("demo")
    assert stats["target_gone"] == 1 and stats["dead_letters"] == 0 and stats["scheduled"] == 0


# ---- the subscribe endpoint: who may call it, bad input -------------------------------------------------


def test_subscribe_needs_the_shoppers_token_of_this_venue(app, client, db, new_browser, demo, contacts):
    body = {"subscription": new_browser().subscription("https://fcm.googleapis.com/fcm/send/abc")}
    assert subscribe(client, None, body).status_code == 401
    assert subscribe(client, "demo." + "x" * 43, body).status_code == 401  # not a live token
    assert subscribe(client, token_for(app, venue="north"), body).status_code == 401  # another venue's
    cookie_only = client.post("/api/v1/venues/demo/notify/push", json=body,
                              headers={"Cookie": f"mp_c={token_for(app)}"})
    assert cookie_only.status_code == 401  # a cookie is not enough: no other site can subscribe a shopper
    assert subscribe(client, token_for(app), body, venue="nowhere").status_code == 401  # no venue's name confirmed
    assert contacts.get("demo", "s-1").push == {}
    assert subscribe(client, token_for(app), body).status_code == 201
    assert list(contacts.get("demo", "s-1").push.values())[0]["endpoint"].endswith("/abc")


@pytest.mark.parametrize("body, field", [
    ({}, "subscription.subscription"),
    ({"subscription": "x"}, "subscription.subscription"),
    ({"subscription": {"endpoint": "https://fcm.googleapis.com/x"}}, "subscription.keys"),
    ({"subscription": {"endpoint": "http://fcm.googleapis.com/fcm/send/abc", "keys": {}}}, "subscription.endpoint"),
    ({"subscription": {"endpoint": "https://evil.example/fcm/send/abc", "keys": {}}}, "subscription.endpoint"),
    ({"subscription": {"endpoint": "https://fcm.googleapis.com.evil.example/a/b", "keys": {}}},
     "subscription.endpoint"),
    ({"subscription": {"endpoint": "https://u:p@fcm.googleapis.com/fcm/send/abc", "keys": {}}},
     "subscription.endpoint"),
    ({"subscription": {"endpoint": "https://fcm.googleapis.com/fcm/send/abc",
                       "keys": {"p256dh": "short", "auth": "x"}}}, "subscription.keys"),
    ([1, 2], "$"),
])
def test_subscribe_bad_input_is_400_and_nothing_is_stored(app, client, db, demo, body, field, contacts):
    response = subscribe(client, token_for(app), body)
    assert response.status_code == 400 and response.json["field"] == field
    assert contacts.get("demo", "s-1").push == {}


def test_subscribe_other_bad_requests(app, client, db, new_browser, demo, contacts):
    token = token_for(app)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"}
    assert client.post("/api/v1/venues/demo/notify/push", data="{}", headers=headers).status_code == 415
    headers["Content-Type"] = "application/json"
    assert client.post("/api/v1/venues/demo/notify/push", data="{not json", headers=headers).status_code == 400
    for i in range(5):
        body = {"subscription": new_browser().subscription(f"https://fcm.googleapis.com/fcm/send/{i}")}
        assert subscribe(client, token, body).status_code == 201
    assert subscribe(client, token, body).status_code == 201  # the same one again: kept, not a sixth
    extra = {"subscription": new_browser().subscription("https://fcm.googleapis.com/fcm/send/6")}
    assert subscribe(client, token, extra).status_code == 409
    assert len(contacts.get("demo", "s-1").push) == 5


def test_unsubscribe_only_ones_own(app, client, db, new_browser, demo, contacts):
    body = {"subscription": new_browser().subscription("https://fcm.googleapis.com/fcm/send/abc")}
    sid = subscribe(client, token_for(app), body).json["id"]
    intruder = {"Authorization": f"Bearer {token_for(app, client='s-2')}"}
    assert client.delete(f"/api/v1/venues/demo/notify/push/{sid}", headers=intruder).status_code == 404
    assert client.delete(f"/api/v1/venues/demo/notify/push/{sid}").status_code == 401
    assert client.delete("/api/v1/venues/demo/notify/push/..%2F", headers=intruder).status_code in (404, 405)
    owner = {"Authorization": f"Bearer {token_for(app)}"}
    assert client.delete(f"/api/v1/venues/demo/notify/push/{sid}", headers=owner).status_code == 204
    assert contacts.get("demo", "s-1").push == {}


WECHAT_UA = ("Mozilla/5.0 (Linux; Android 14; V2243A Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Version/4.0 Chrome/122.0.6261.120 Mobile Safari/537.36 XWEB/1220099 MMWEBSDK/20240404 "
             "MicroMessenger/8.0.49.2600(0x28003133) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64")
CHROME_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 "
             "Mobile Safari/537.36")


def test_no_push_button_in_an_apps_own_browser(app, client, demo):
    """WeChat's and Alipay's web views take no push subscription a push service in China delivers: the button is
    not offered there (it would ask for permission, then fail); a phone's own browser gets it, with a line for a
    failure to show instead of nothing."""
    token = token_for(app, client="s-push-ua")
    assert client.post("/v/demo/queue/jade/take", data={"party": "2", "c": token}).status_code == 303
    own = client.get(f"/v/demo/queue/jade?c={token}", headers={"User-Agent": CHROME_UA}).get_data(as_text=True)
    assert 'id="notify-push"' in own and 'id="notify-push-failed"' in own and 'id="notify-phone"' in own
    wechat = client.get(f"/v/demo/queue/jade?c={token}", headers={"User-Agent": WECHAT_UA}).get_data(as_text=True)
    assert 'id="notify-push"' not in wechat and 'id="notify-phone"' in wechat  # texts still offered
