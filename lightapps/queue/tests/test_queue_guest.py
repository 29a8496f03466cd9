"""A booking's guest details: name, note and a number for texts, given by the shopper (all optional), shown
to the restaurant's console (the number only in part); bad input is 400 and books nothing."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from lightapps.queue.store import QueueStore
from portal.shopper import cookie_name

BASE = "/v/demo/queue/jade"


def tomorrow() -> str:
    return (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)).isoformat()


def new_token(client) -> str:
    client.delete_cookie(cookie_name("demo"))
    token = re.search(r'name="c" value="([^"]+)"', client.get(BASE).get_data(as_text=True)).group(1)
    client.delete_cookie(cookie_name("demo"))
    return token


def test_guest_details_reach_the_console(client, console, db, demo):
    token = new_token(client)
    day = tomorrow()
    form = {"party": "4", "date": day, "slot": "12:00", "c": token}
    for bad in ({"name": "n" * 41}, {"note": "x" * 121}, {"phone": "call me"}):
        assert client.post(f"{BASE}/reserve", data={**form, **bad}).status_code == 400, bad
    assert QueueStore(db).reservations("demo", "jade", day) == []
    ok = client.post(f"{BASE}/reserve", data={**form, "name": "  Li  Wei ", "note": "high chair\nplease",
                                              "phone": "138 0013 8000"})
    assert ok.status_code == 303
    [booking] = QueueStore(db).reservations("demo", "jade", day)
    assert (booking["name"], booking["note"]) == ("Li Wei", "high chair please")
    console.login("jade")
    page = client.get(f"/console/apps/queue/demo/jade/reservations?date={day}").get_data(as_text=True)
    row = re.search(rf'<tr id="res-{booking["id"]}">(.*?)</tr>', page, re.S).group(1)
    assert "Li Wei" in row and "high chair please" in row and "8000" in row
    assert "13800138000" not in row and "138 0013 8000" not in row  # the number only in part
