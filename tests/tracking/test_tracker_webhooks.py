"""The tracker never waits for a webhook: its sweep (MomentsEngine.tick) hands the due webhooks to the engine's
sender thread (WebhookSender), so a receiver that accepts the connection and never answers holds that thread
only, while the tracker's rounds go on positioning phones (one operator's dead CRM once froze positioning,
landing and occupancy for every venue the tracker served). The delivery's retries: test_moments_webhook_delivery."""

from __future__ import annotations

import contextlib
import socket
import time

from werkzeug.datastructures import MultiDict

from portal.events.moments import http_post, parse_rule
from portal.tracking import Tracker
from tests.test_slice import post_phone_at
from tests.test_tracking import kept_zone

PHONES = ["02:00:5e:00:56:01", "02:00:5e:00:56:02"]
HOLD_S = 90  # how long the sender waits for the silent receiver: far beyond what the test needs on any machine


def webhook_fires(svc, url: str) -> None:
    """A CRM webhook on kopi, and a shopper who agreed to it entering kopi (one delivery due now)."""
    svc.moments.save("demo", parse_rule(MultiDict({"name": "crm", "trigger": "zone_enter", "zone": "kopi",
                                                   "action": "webhook", "webhook_url": url}),
                                        zones=["kopi"], owner="ops", may_webhook=True,
                                        allow_private=True))  # the receiver listens on loopback
    svc.consent.record("demo", "s-hook", location=True, marketing=True)
    svc.moments.ensure("demo", start="0")
    svc.events.emit("demo", "landing", at=time.time() - 5, device="d-hook", shopper="s-hook", zone="atrium")
    svc.events.emit("demo", "zone_enter", at=time.time() - 4, device="d-hook", zone="kopi")


def read_request_head(conn: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(65536)
        assert chunk, "the sender hung up before sending its request"
        head += chunk
    return head


def test_a_receiver_that_never_answers_holds_up_no_positioning(client, demo, svc, demo_map):
    with contextlib.ExitStack() as stack:
        hole = stack.enter_context(socket.create_server(("127.0.0.1", 0)))  # accepts (the kernel), never answers
        hole.settimeout(HOLD_S)
        webhook_fires(svc, f"http://127.0.0.1:{hole.getsockname()[1]}/crm")
        svc.moments.send = lambda url, body, headers: http_post(url, body, headers, timeout_s=HOLD_S)
        tracker = Tracker(svc.db, svc.venues, svc.locator, sweeps=[svc.moments.tick], sweep_every_s=0.0)
        post_phone_at(client, demo, demo_map, 1, 20, 30, phone=PHONES[0])

        assert tracker.round() == (1, 0)  # positioned; the sweep fired the webhook and handed it over
        conn = stack.enter_context(hole.accept()[0])  # the sender thread's POST, left unanswered
        conn.settimeout(HOLD_S)
        assert read_request_head(conn).startswith(b"POST /crm ")
        [delivery] = svc.moments.deliveries("demo")
        assert delivery.status == "queued"  # round() returned before the try's outcome: it did not wait

        post_phone_at(client, demo, demo_map, 1, 65, 30, phone=PHONES[1])  # a phone reports meanwhile
        assert tracker.round() == (1, 0)  # positioned in this round, the sweep included
        assert kept_zone(svc.db, svc.hasher.client_id(PHONES[1]))
        assert svc.moments.delivery("demo", delivery.id).status == "queued"  # the receiver still holds it

        conn.close()  # the receiver hangs up: a failed try, retried as ever
        assert svc.moments.sender.wait_idle(HOLD_S)
        after = svc.moments.delivery("demo", delivery.id)
        assert (after.status, after.attempts) == ("retrying", 1)
