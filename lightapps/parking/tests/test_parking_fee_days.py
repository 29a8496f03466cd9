"""The fee shown is the fee charged across the venue's midnight: a stay over two days, the free hours its
shopping earned before midnight, the fee page after midnight and the exit's charge."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from parking_fixtures import LANDING, VENUE, garage_fixture, plate, post_events, shopper_c  # noqa: F401

from portal.apps.registry import get as get_app
from portal.captive.config import PortalConfigStore

PLATE = "粤A MID01"
HOUR_S = 3600


@pytest.fixture
def after_midnight(svc, garage) -> ZoneInfo:
    """The venue's time zone chosen so that it is 02:xx there now: the venue's midnight was 2-3 h ago.
    The tariff: ¥5.00 per started hour, no daily cap, every ¥100.00 spent = one free hour, at most 2."""
    utc_hour = datetime.now(UTC).hour
    offset = (2 - utc_hour) % 24
    offset = offset - 24 if offset > 14 else offset
    name = f"Etc/GMT{'-' if offset >= 0 else '+'}{abs(offset)}"  # Etc/GMT-8 is UTC+8
    PortalConfigStore(svc.db).set(VENUE, {"time_zone": name})
    config = {**get_app("parking").default_config(), "hourly_fen": 500, "free_minutes": 15, "daily_cap_fen": 0,
              "spend_fen_per_hour": 10_000, "max_free_hours": 2, "grace_minutes": 15}
    svc.zone_apps.set(VENUE, "garage", "parking", config)
    return ZoneInfo(name)


def _spend(svc, client_id: str, fen: int, at: float) -> None:
    """The shopper paid `fen` in a shop of the mall at `at` (the payments ledger)."""
    order = svc.payments.create(VENUE, merchant="kopi", shopper=client_id, amount=fen, purpose="shop", ref="r",
                                description="coffee", idem=f"spend-{client_id}-{at}")
    assert svc.payments.store.settle(VENUE, order.id, fen, f"txn-{order.id}", "alipay", now_ms=int(at * 1000)) == "paid"


def fee_page(client, entered: float, tz) -> str:
    """The driver's fee page, found by plate and opened with the hour the car came in (venue time)."""
    found = client.post(f"{LANDING}/fee", data={"plate": PLATE, "c": shopper_c(client.application, "driver")})
    path, _q, query = found.headers["Location"].partition("?")
    came_in = int(datetime.fromtimestamp(entered, tz).replace(minute=0, second=0).timestamp())
    assert client.post(f"{path}/verify?{query}", data={"hour": str(came_in)}).status_code == 303
    return client.get(found.headers["Location"]).get_data(as_text=True)


def test_shopping_before_midnight_still_counts_after_it(client, svc, garage, after_midnight):
    now = time.time()
    entered = now - 4.5 * HOUR_S  # 21:30-22:30 yesterday, venue time; 5 started hours now
    assert datetime.fromtimestamp(entered, after_midnight).date() < datetime.fromtimestamp(now, after_midnight).date()
    post_events(client, garage, {"type": "entry", "plate": PLATE, "ts": entered}, plate(PLATE, "G-A01", entered + 60))
    _spend(svc, "driver", 20_000, now - 4 * HOUR_S)  # ¥200.00 in the mall during the stay, before midnight
    html = fee_page(client, entered, after_midnight)
    assert re.search(r'id="gross">¥25\.00<', html)  # 5 started hours
    assert re.search(r'2 free hours for shopping in the mall</th><td id="spend">-¥10\.00<', html)
    assert re.search(r'id="due"><strong>¥15\.00<', html)
    exit_ = post_events(client, garage, {"type": "exit", "plate": PLATE, "ts": time.time()})
    assert exit_["exits"] == [{"index": 0, "outcome": "owed", "due_fen": 1500}]  # what the page showed


def test_shopping_the_day_before_the_car_came_in_does_not_count(client, svc, garage, after_midnight):
    """From the start of the day the car came in: yesterday's shopping does not pay today's visit."""
    now = time.time()
    entered = now - 1.5 * HOUR_S  # 00:30-01:30 today, venue time
    post_events(client, garage, {"type": "entry", "plate": PLATE, "ts": entered}, plate(PLATE, "G-A01", entered + 60))
    _spend(svc, "driver", 20_000, now - 3.5 * HOUR_S)  # before midnight: another day
    html = fee_page(client, entered, after_midnight)
    assert 'id="spend"' not in html and re.search(r'id="due"><strong>¥10\.00<', html)
