"""Map versions page: list, roll back (a new current version, audited), the background model rebuild,
and the quality and footfall pages."""

from __future__ import annotations

import dataclasses
import html
import re
import time

import pytest

from fingerprints.quality import LiveEstimate
from portal.auth import AuditLog
from portal.operator import quality as ops_quality
from portal.operator.footfall import record_position
from portal.operator.quality import reports
from portal.operator.versions import model_state, wait_for_model
from portal.tracking import Position

V = "/console/ops/demo"


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def post(client, ops, url, **data):
    return client.post(url, data={"csrf_token": ops.csrf(), **data})


def test_change_then_roll_back(client, ops, svc):
    first = svc.venues.current_version("demo")
    resp = post(client, ops, V + "/setup/floor/0/aps", bssid="aa:bb:cc:dd:ee:01", x="5", y="5")
    assert resp.status_code == 303
    second = svc.venues.current_version("demo")
    assert second == first + 1
    state = wait_for_model("demo", second, db=svc.db)
    assert state["state"] == "ready" and state["fit_s"] >= 0
    page = text(client.get(V + "/versions"))
    assert f"v{second}" in page and f"v{first}" in page and 'id="model-ready"' in page
    resp = post(client, ops, V + "/versions/rollback", version=str(first))
    assert resp.status_code == 303
    assert svc.venues.current_version("demo") == first
    assert "aa:bb:cc:dd:ee:01" not in svc.venues.get_map("demo").ap_ids()
    assert AuditLog(svc.db).recent("demo")[0]["action"] == "map.rollback"
    assert wait_for_model("demo", first, db=svc.db)["state"] == "ready"
    # the portal's own cache serves the rolled-back version
    assert svc.models.get("demo").version == first


@pytest.mark.parametrize("version", ["99", "abc", "", "-1"])
def test_roll_back_to_a_missing_version(client, ops, svc, version):
    before = svc.venues.current_version("demo")
    resp = post(client, ops, V + "/versions/rollback", version=version)
    assert resp.status_code == 400 and "There is no map version" in text(resp)
    assert svc.venues.current_version("demo") == before


def test_rebuild_now_and_building_state_refreshes(client, ops, svc):
    resp = post(client, ops, V + "/versions/rebuild")
    assert resp.status_code == 303
    state = wait_for_model("demo", svc.venues.current_version("demo"), db=svc.db)
    assert state["state"] == "ready"
    svc.db.hset("mp:{demo}:ops:model", mapping={"state": "building", "step": "fitting", "progress": 0.4})
    page = text(client.get(V + "/versions"))
    assert 'id="model-building"' in page and 'id="auto-refresh"' in page
    assert model_state("demo", svc.db)["progress"] == pytest.approx(0.4)


def test_quality_page_and_figures(client, ops, svc, monkeypatch):
    page = text(client.get(V + "/quality?floor=0"))
    assert 'id="zone-hit-rate"' in page and 'id="weak-spots"' in page and 'id="live-zone-first"' in page
    assert 'id="live-checked"' in page and "at 120 s (±" in page
    version = svc.venues.current_version("demo")
    assert ("demo", version, 0) in reports._items
    for url in [f"/quality/0/confusion.png?v={version}", "/quality/1/heatmap.png",
                "/aps/f0:9f:c2:1a:00:01/heatmap.png", "/aps/F0-9F-C2-1A-00-01/heatmap.png"]:
        resp = client.get(V + url)
        assert resp.status_code == 200 and resp.mimetype == "image/png" and resp.data[:4] == b"\x89PNG", url
    import fingerprints.quality

    def drawn_again(*_args):
        raise AssertionError("the figure was drawn again: not cached per version")

    monkeypatch.setattr(fingerprints.quality, "confusion_png", drawn_again)
    assert client.get(V + f"/quality/0/confusion.png?v={version}").status_code == 200  # cached per version
    assert client.get(V + "/quality?floor=all").status_code == 200
    assert client.get(V + "/quality?floor=9").status_code == 404
    assert client.get(V + "/quality/9/heatmap.png").status_code == 404
    assert client.get(V + "/quality/0/heatmap.png?v=999").status_code == 404
    assert client.get(V + "/aps/not-a-bssid/heatmap.png").status_code == 400
    assert client.get(V + "/aps/aa:bb:cc:dd:ee:ff/heatmap.png").status_code == 404


def test_quality_page_gives_the_group_page_share_apart(client, ops, svc, monkeypatch):
    """Beside each right-zone rate of the live estimate, the share landing on the page of the zone's group (the
    food hall's, for a stall), when there is any: the designed answer to a doubt, neither right nor wrong."""
    real = ops_quality.live_for

    def with_group_pages(*args, **kwargs):
        live = real(*args, **kwargs)
        return dataclasses.replace(live, group_rates=(0.0, 0.04, 0.125)) if isinstance(live, LiveEstimate) else live

    monkeypatch.setattr(ops_quality, "live_for", with_group_pages)

    def cell(page: str, which: str) -> str:
        return re.search(rf'id="live-zone-{which}">(.*?)</td>', page, re.S).group(1)

    page = text(client.get(V + "/quality?floor=0"))
    assert "on the page of its group" not in cell(page, "first")  # none there: nothing said
    assert "(+ 4.0% on the page of its group instead, e.g. the food hall's for a stall)" in cell(page, "early")
    assert "(+ 12.5% on the page of its group instead" in cell(page, "settled")
    zh = text(client.get(V + "/quality?floor=0&lang=zh"))
    assert "另有 4.0% 落在其所属分组的页面" in cell(zh, "early") and "on the page of its group" not in zh


def test_quality_page_says_when_the_venue_runs_its_own_positioner_configuration(client, ops, svc, monkeypatch):
    """The claim runs the venue's stored configuration, but its check was made with the live defaults: the page says
    so under a stored one (and more where it changes the representation), and nothing under the defaults."""
    page = text(client.get(V + "/quality?floor=0"))
    assert 'id="live-checked"' in page and 'id="live-configuration"' not in page  # the live defaults
    real = ops_quality._map_version

    def configured(positioner):
        # the same map version with a configuration: the cached report and estimate serve it, the page's words differ
        monkeypatch.setattr(ops_quality, "_map_version",
                            lambda venue: dataclasses.replace(real(venue), positioner=positioner))

    configured({"k": 5, "offset_rounds": 2})  # offset_rounds 2 is the live default's: not named
    page = text(client.get(V + "/quality?floor=0"))
    note = re.search(r'id="live-configuration">(.*?)</p>', page, re.S).group(1)
    assert "runs its own positioner configuration (k=5): the check above was made with the live defaults." in note
    assert "representation" not in note
    configured({"representation": "exponential", "offset_search_db": 0.0})
    page = text(client.get(V + "/quality?floor=0"))
    note = re.search(r'id="live-configuration">(.*?)</p>', page, re.S).group(1)
    assert "(offset_search_db=0, representation=exponential)" in note and "read 6-24 points above" in note
    zh = text(client.get(V + "/quality?floor=0&lang=zh"))
    assert "本场馆的实时模型使用自己的定位配置（offset_search_db=0, representation=exponential）" in zh
    assert "高出 6-24 个百分点" in zh and "runs its own" not in zh


def test_quality_of_a_map_without_samples(client, ops, svc):
    m = svc.venues.get_map("demo", for_update=True)
    m.samples = []
    svc.venues.put_map(m)
    resp = client.get(V + "/quality")
    assert resp.status_code == 200 and "has no fingerprint samples" in text(resp)


def test_footfall_page_from_live_positions(client, ops, svc, app):
    now = time.time()
    with app.app_context():
        for k in range(5):
            record_position("demo", f"client{k}", Position(0, 10.0 + k, 10.0, "cinema", 0.9, 0.9), now=now - 60)
            record_position("demo", f"client{k}", Position(0, 10.0 + k, 10.0, "cinema", 0.9, 0.9), now=now)
        record_position("demo", "client9", None)  # not located: ignored
    day = svc.footfall.today("demo", now).isoformat()  # the venue's (Asia/Shanghai), not the host's
    page = text(client.get(V + "/footfall?floor=0"))  # no day: the venue's today
    assert 'id="visitors-total"' in page and "<strong>5</strong>" in page
    assert f'value="{day}"' in page
    png = client.get(V + f"/footfall/{day}/0.png")
    assert png.status_code == 200 and png.data[:4] == b"\x89PNG"
    assert client.get(V + "/footfall?day=2024-13-45").status_code == 400
    assert client.get(V + "/footfall?day=yesterday").status_code == 400
    assert client.get(V + "/footfall/notaday/0.png").status_code == 400
    assert client.get(V + f"/footfall/{day}/9.png").status_code == 404
