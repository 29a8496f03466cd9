"""The outbox's dead letters for the operator: listed, replayed and dropped one by one or all, from the
console page and the CLI; bad input is 400 and changes nothing; only the venue's operator may."""

from __future__ import annotations

import re

from portal.notify.outbox import Job, NotifyKeys, Outbox

PAGE = "/console/ops/demo/outbox"


def bury(db, n: int = 2) -> list[str]:
    box = Outbox(db)
    for i in range(n):
        job = Job(id=f"m{i}", venue="demo", shopper=f"anon-{i:032x}", event="queue.called",
                  data={"title_en": "Your table"}, created=1.0, attempt=4, channel="sms", target="phone")
        box.bury(job, f"tencent: error {i}")
    return [d.id for d in box.dead_letters("demo")]


def test_operator_lists_replays_and_drops_dead_letters(client, console, db):
    first, second = bury(db)
    console.login("ops")
    page = client.get(PAGE).get_data(as_text=True)
    assert f'id="letter-{first}"' in page and "tencent: error 1" in page and "Your table" not in page
    csrf = console.csrf()
    assert client.post(f"{PAGE}/replay", data={"csrf_token": csrf, "letter": first}).status_code == 303
    assert [d.id for d in Outbox(db).dead_letters("demo")] == [second]
    assert db.zscore(NotifyKeys("demo").due(), "m1|sms|phone") is not None  # a fresh try, now
    assert client.post(f"{PAGE}/replay", data={"csrf_token": csrf, "letter": first}).status_code == 404  # once
    assert client.post(f"{PAGE}/drop", data={"csrf_token": csrf, "letter": second}).status_code == 303
    assert Outbox(db).dead_letters("demo") == []
    stats = Outbox(db).stats("demo")
    assert (stats["replayed"], stats["dropped"]) == (1, 1)
    bury(db, 3)
    assert client.post(f"{PAGE}/drop", data={"csrf_token": csrf, "all": "1"}).status_code == 303
    assert Outbox(db).stats("demo")["dead_letters"] == 0


def test_bad_input_and_who_may(client, console, db):
    bury(db)
    before = db.lrange(NotifyKeys("demo").dead(), 0, -1)
    assert client.get(PAGE).status_code == 302  # logged out: the login page
    console.login("kopi")  # a zone owner
    assert client.get(PAGE).status_code == 403
    assert client.post(f"{PAGE}/drop", data={"csrf_token": console.csrf(), "all": "1"}).status_code == 403
    console.logout()
    console.login("ops")
    csrf = console.csrf()
    for form in ({}, {"letter": "nothex"}, {"letter": "0" * 16, "all": "1"}, {"letter": "x" * 500}):
        assert client.post(f"{PAGE}/replay", data={"csrf_token": csrf, **form}).status_code == 400, form
        assert client.post(f"{PAGE}/drop", data={"csrf_token": csrf, **form}).status_code == 400, form
    assert client.post(f"{PAGE}/drop", data={"all": "1"}).status_code == 400  # no CSRF token
    assert client.get(f"{PAGE}?page=0").status_code == 400
    assert db.lrange(NotifyKeys("demo").dead(), 0, -1) == before


def test_cli(app, db):
    first, _second = bury(db)
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["outbox", "dead", "demo"])
    assert listed.exit_code == 0 and first in listed.output and "queue.called" in listed.output
    assert runner.invoke(args=["outbox", "replay", "demo"]).exit_code == 2  # neither an id nor --all
    assert runner.invoke(args=["outbox", "drop", "demo", "zz"]).exit_code == 2
    assert runner.invoke(args=["outbox", "replay", "demo", first]).exit_code == 0
    assert runner.invoke(args=["outbox", "replay", "demo", first]).exit_code == 1  # gone already
    done = runner.invoke(args=["outbox", "drop", "demo", "--all"])
    assert done.exit_code == 0 and re.search(r"^1 dead letters dropped", done.output, re.M)
    assert "dead_letters: 0" in runner.invoke(args=["outbox", "stats", "demo"]).output
