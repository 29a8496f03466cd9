"""The reviewer's reproduction: Add showtime, the back button, another film in another hall at another time, Add
again with the same form token: that show is stored too (the token resent with other content is a new form), while
a double tap of either sending adds one show."""

from __future__ import annotations

import re

from cinema_fixtures import mall_fixture, store_fixture  # noqa: F401 (the fixtures)
from test_cinema_show_clash import CONSOLE, VENUE, ZONE, at, typed

from portal.auth import AuditLog


def test_add_showtime_resent_edited_with_the_same_token_adds_that_show(client, console, store):
    console.login("cinema")
    nonce = re.search(r'name="nonce" value="([^"]+)"', client.get(f"{CONSOLE}/").get_data(as_text=True)).group(1)
    first = typed(console, film_en="Film A", starts_at=at(5, 10).strftime("%Y-%m-%dT%H:%M"), nonce=nonce)
    edited = {**first, "film_en": "Film B", "auditorium": "2", "starts_at": at(5, 20).strftime("%Y-%m-%dT%H:%M")}
    sent = [client.post(f"{CONSOLE}/showtimes", data=data) for data in (first, first, edited, edited)]
    assert all(resp.status_code == 303 for resp in sent)
    films = [(s.film_en, s.auditorium, s.starts_at) for s in store.showtimes(VENUE, ZONE)]
    assert films.count(("Film A", "1", int(at(5, 10).timestamp()))) == 1
    assert films.count(("Film B", "2", int(at(5, 20).timestamp()))) == 1
    assert sent[2].headers["Location"] == sent[3].headers["Location"] != sent[0].headers["Location"]
    assert len([e for e in AuditLog(store.db).recent(VENUE) if e["action"] == "cinema.showtime.add"]) == 2
