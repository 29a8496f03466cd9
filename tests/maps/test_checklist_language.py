"""The set-up checklist and the quality page's live-estimate sentences in the page's language.

The reviewer's case: /console/ops/<venue>/checklist?lang=zh was in English (portal/maps/checklist.py built
its steps from plain strings), and so was the quality page's "checked against bench/landing_replay.py ..."
paragraph (fingerprints.quality.CHECKED, English for the CLI). Now every step's words go through the catalog
with their figures as placeholders (portal/maps/checklist.py), and the quality page says the CHECKED and
CANNOT_KNOW sentences from portal/maps/quality_text.py."""

from __future__ import annotations

import re

from fingerprints.quality import CANNOT_KNOW, CHECKED, CHECKED_ASSUMED_PHONES, LiveAssumptions, checked_for
from portal.maps.builds import wait_for_model
from portal.maps.quality_text import _FORMER_LINES, cannot_know_text, checked_text
from tests.pages import visible_text

V = "/console/ops/demo"
# Names that stay in Latin letters on a Chinese page: file formats, vendors and standards, the product, the
# setting's name, and the link to the other language.
PROPER = {"IMDF", "Ekahau", "Meraki", "UniFi", "WiFi", "MallPortal", "LIGHT_APPS", "English", "CGNAT"}
LATIN_RUN = re.compile(r"[A-Za-z]{4,}")



def english_left(text: str, names: set[str]) -> list[str]:
    """The runs of 4+ Latin letters in `text` once ids, URLs, paths, `code`, CSV columns (ts,floor,x,y) and
    PROPER names are taken out."""
    text = re.sub(r"`[^`]*`|\S+://\S+|\S*/\S*|\S+\.py\b|\w+(?:,\w+)+", " ", text)
    for name in sorted(names | PROPER, key=len, reverse=True):
        text = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", " ", text)
    return LATIN_RUN.findall(text)


def demo_names(svc) -> set[str]:
    """What the page shows as it is stored: the venue, the account, zone and floor ids and names, APs."""
    venue_map = svc.venues.get_map("demo")
    names = {"demo", "ops", venue_map.name}
    names |= {z.id for z in venue_map.zones} | {f.name for f in venue_map.floors}
    names |= {a.bssid for a in venue_map.aps} | {a.name for a in venue_map.aps if a.name}
    return names


def test_the_checklist_is_in_chinese(client, ops, svc):
    page = client.get(V + "/checklist?lang=zh")
    assert page.status_code == 200
    text = visible_text(page.get_data(as_text=True))
    assert "✗" in text and "✓" in text  # the steps are there, done and not
    assert english_left(text, demo_names(svc)) == [], text
    wait_for_model("demo", svc.venues.current_version("demo"), svc.db)  # the build the page started: ready
    text = visible_text(client.get(V + "/checklist?lang=zh").get_data(as_text=True))
    assert english_left(text, demo_names(svc)) == [], text


def test_the_check_finds_english(svc, demo):
    """The check itself: an English step is caught, ids and URLs are not."""
    names = demo_names(svc)
    assert english_left("✗ 定位模型 Model of map v3: building.", names) == ["Model", "building"]
    assert english_left("区域 cinema：https://example.org/x `flask validation-walk` 导入 IMDF (ts,floor,x,y)",
                        names) == []


def test_the_checklist_in_english_keeps_its_words(client, ops):
    text = visible_text(client.get(V + "/checklist?lang=en").get_data(as_text=True))
    for words in ("Floor plan", "Zones and their apps", "on the mall directory", "Survey coverage",
                  "Report sources seen live", "Positioning model", "Model of map v", "Validation walk"):
        assert words in text, words


def test_the_quality_sentences_match_the_reports(app):
    """In English, the page says exactly what fingerprints.quality's report says."""
    with app.test_request_context("/?lang=en"):
        assert checked_text() == CHECKED_ASSUMED_PHONES == checked_for(LiveAssumptions())
        measured = LiveAssumptions(phone_mean_db=-2.0, phone_spread_db=3.0, phones_measured=40)
        assert checked_text(measured) == CHECKED == checked_for(measured)
        assert [cannot_know_text(line) for line in CANNOT_KNOW] == CANNOT_KNOW


def test_the_quality_page_says_them_in_chinese(client, ops):
    page = client.get(V + "/quality?floor=0&lang=zh").get_data(as_text=True)
    checked = re.search(r'<p class="small" id="live-checked">(.*?)</p>', page, re.S).group(1)
    limits = re.search(r"<p class=\"small\">[^<]*(?:simulated visits|模拟)[^<]*</p>", page)
    assert "bench/landing_replay.py" in checked and english_left(visible_text(checked), set()) == [], checked
    assert limits and english_left(visible_text(limits.group(0)), set()) == [], limits


def test_an_estimate_stored_before_a_line_changed_shows_the_line_as_it_reads_now(app):
    """A stored estimate holds its cannot-know lines in English as they read when it was made (kept for days): a
    line's former English is said as the line reads now, in Chinese too, not left in English."""
    for former, now in _FORMER_LINES.items():
        assert former not in CANNOT_KNOW and now in CANNOT_KNOW
        for lang in ("en", "zh"):
            with app.test_request_context(f"/?lang={lang}"):
                assert cannot_know_text(former) == cannot_know_text(now)
        with app.test_request_context("/?lang=zh"):
            assert english_left(cannot_know_text(former), {"WiFi"}) == []

