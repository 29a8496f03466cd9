"""Call next's form token is kept with what the form says (its class): a double tap calls one party, and the
page's token sent for another class (the back button, then that class's button) calls that class."""

from __future__ import annotations

from lightapps.queue.store import QueueStore

CONSOLE = "/console/apps/queue/demo/jade"
ZONE = "jade"
TOKEN = "call-form-0123456789"


def test_call_next_with_one_token_calls_once_per_class(svc, client, console):
    queue = QueueStore(svc.db)
    console.login(ZONE)
    queue.take("demo", ZONE, "A", 2, "shopper-1")
    queue.take("demo", ZONE, "B", 3, "shopper-2")
    csrf = console.csrf()
    called = [client.post(f"{CONSOLE}/call-next", data={"cls": cls, "nonce": TOKEN, "csrf_token": csrf},
                          headers={"Accept": "application/json"}).get_json() for cls in ("A", "A", "B", "B")]
    assert called == [{"called": "A001"}, {"called": "A001"}, {"called": "B001"}, {"called": "B001"}]
    assert queue.call_log("demo", ZONE) == ["A001", "B001"]
