"""The README's examples of the light apps' machine APIs, replayed as written against the demo mall: a
request body the README shows must be one the API takes."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta

from core.settings import PROJECT_ROOT

SECTION = "**The apps' machine APIs: request bodies.**"


def readme_calls() -> list[tuple[str, dict]]:
    """(path, JSON body) of each curl in the section's code block, continuation lines joined."""
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    block = text[text.index(SECTION):]
    block = block[block.index("```sh") + 5:]
    # $NOW as a user's `date +%s` reads it, a second or more after the demo loaded: the demo parks its car at the
    # loading's millisecond, and the same second truncated would be older than that (a "stale" plate event)
    block = block[:block.index("```")].replace("\\\n", " ").replace("'$NOW'", str(int(time.time()) + 1))
    # $SHOW as `date -d '+3 days' +%F` makes it, the machine's date: past the demo's own shows (today, tomorrow)
    block = block.replace("'$SHOW'", f"{(datetime.now() + timedelta(days=3)).date().isoformat()}T19:30")
    calls = []
    for command in re.findall(r"^curl .*?(?=^curl |\Z)", block, flags=re.M | re.S):
        path = re.search(r"http://127\.0\.0\.1:8000(/api/\S+)", command).group(1)
        body = re.search(r"-d '(.*?)'", command, flags=re.S).group(1)
        calls.append((path, json.loads(body)))
    return calls


def test_every_example_in_the_readme_is_taken(client, demo):
    calls = readme_calls()
    assert [path.rsplit("/", 2)[-2] for path, _ in calls] == ["cinema", "parking", "membership"]
    for path, body in calls:
        resp = client.post(path, json=body, headers={"Authorization": f"Bearer {demo}"})
        assert resp.status_code in (200, 201), (path, resp.get_json())
        if path.endswith("/parking/events"):
            assert resp.get_json()["results"] == ["applied", "applied"]
