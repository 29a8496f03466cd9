"""'Transacted' says what it counts, everywhere it is shown: a free membership sign-up counts (engagement, as a free
coupon, a draw or an activity sign-up do: NOT_TRANSACTIONS leaves it counted), and the definition beside the figure
on the operator's and the owner's page and in the exports' metadata says so, from one text (portal/operator/insights.py
figure_definitions). Until 2026-12-07 the page listed "a purchase, a coupon ..., a draw, a queue ticket or a booking"
while counting sign-ups, and the exports did not define the figure at all."""

from __future__ import annotations

import html
import re

import pytest

from tests.events.test_insights_console import DAY, T

ZONE = "kopi"


@pytest.fixture
def joiners(svc, demo):
    """12 phones in Kopi for 10 min, all landed; 6 of them only joined the membership there."""
    for i in range(12):
        svc.presence.record("demo", f"d{i}", ZONE, T + i)
        svc.presence.record("demo", f"d{i}", ZONE, T + i + 600)
        svc.consent.record("demo", f"s-{i}", location=True, marketing=False)
        svc.events.emit("demo", "landing", at=T + i + 30, device=f"d{i}", shopper=f"s-{i}", zone=ZONE)
        if i < 6:
            svc.events.emit("demo", "txn", at=T + i + 60, device=f"d{i}", shopper=f"s-{i}", zone=ZONE,
                            app="membership", action="member_join", member=f"m-{i}")
    svc.presence.sweep("demo", T + 4 * 3600)
    return svc


def defined_beside_the_figure(page: str) -> str:
    return re.sub(r"\s+", " ", re.search(r'id="transacted-means">(.*?)</p>', page, re.S).group(1)).strip()


def test_a_membership_sign_up_counts_and_every_view_says_so(client, console, joiners):
    console.login("ops")
    page = html.unescape(client.get(f"/console/ops/demo/insights?day={DAY}").get_data(as_text=True))
    assert '<strong id="new">6</strong>' in page  # the sign-ups are counted ...
    assert re.search(rf'<tr data-zone="{ZONE}">.*?<td>6 <span class="small">50.0%</span>', page)
    said = defined_beside_the_figure(page)
    assert "a sign-up to an activity or to the membership: free ones count too" in said  # ... and said to be
    assert "a member’s sign-in" in said  # a sign-in is not
    definition = re.search(r'data-definition="transacted">(.*?)</dd>', page, re.S).group(1)
    assert said.startswith(definition)
    csv = client.get(f"/console/ops/demo/insights/export.csv?day={DAY}").get_data(as_text=True)
    assert f"# definition.transacted: Transacted: {definition}" in csv.splitlines()
    console.login(ZONE)
    owner = html.unescape(client.get(f"/console/owner/demo/insights?day={DAY}").get_data(as_text=True))
    assert defined_beside_the_figure(owner) == said
