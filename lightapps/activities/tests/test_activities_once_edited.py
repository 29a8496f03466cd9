"""The create form's token resent with other content (the back button, an edit, send) is a new form: it makes its
own activity, while a double tap of either sending still makes one."""

from __future__ import annotations

from lightapps.activities.store import ActivityStore
from lightapps.activities.tests.test_activities_switch_and_close import CONSOLE, VENUE, ZONE, event_form


def test_the_create_token_resent_edited_makes_a_second_activity(client, console, svc):
    acts = ActivityStore(svc.db)
    console.login("events")
    form = event_form(client.get(f"{CONSOLE}/").get_data(as_text=True), console.csrf())
    edited = {**form, "title_en": "Edited event", "capacity": "30"}
    sent = [client.post(f"{CONSOLE}/new/event", data=data) for data in (form, form, edited, edited)]
    assert all(resp.status_code == 303 for resp in sent)
    titles = [a.title_en for a in acts.for_zone(VENUE, ZONE)]
    assert titles.count("Double event") == 1 and titles.count("Edited event") == 1
    [made] = [a for a in acts.for_zone(VENUE, ZONE) if a.title_en == "Edited event"]
    assert made.limit == 30 and sent[2].headers["Location"] == sent[3].headers["Location"]
    assert len([e for e in svc.db.lrange("mp:{demo}:audit", 0, 20) if b"activities.create" in e]) == 2
