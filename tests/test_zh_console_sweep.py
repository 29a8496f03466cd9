"""English left on the consoles' Chinese pages, found by a crawl of every page with ?lang=zh: zone and walkway
kinds shown as the map's codes (the owner's zone list, the floor editor), a seat's kind read out in English,
the insights export audit's "whole venue", audit actions without words, zone names in English where the map
has Chinese ones, the model build's step, an English app title after the Chinese one, a raw epoch on my data,
the draft page's AP-file words, and the pure library's archive and CSV errors; and a help line whose
`<unix time>` a browser took for a tag, in both languages.

Each check names the English that was shown, not "no Latin letters": ids, codes and file formats stay."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from flask import render_template
from flask_babel import gettext as _

from core.errors import CatalogInputError, InputError
from fingerprints import archives, mallgen, plan
from fingerprints.edits import EDGE_KINDS, ZONE_KINDS
from fingerprints.imdf.schema import KIND_FOR_UNIT_CATEGORY, ImdfError
from fingerprints.quality import read_walk_csv
from lightapps.cinema.common import seat_grid
from lightapps.cinema.layouts import _LARGE, SEAT_KINDS
from portal.auth import AuditLog
from portal.errors import input_error_text
from portal.events.mydata import _number
from portal.kinds import walk_kind_label, zone_kind_label
from portal.maps.builds import SEED_ACTION
from portal.operator.insights import audit_rows
from tests.pages import visible_text

V = "/console/ops/demo"



@pytest.fixture
def zh(app):
    with app.test_request_context("/?lang=zh"):
        yield


def catalog_text(exc: CatalogInputError) -> str:
    """What a console shows for a catalog error (portal/owner/forms.py `field_error`, with its label)."""
    return _(exc.template, **{"label": exc.field, **exc.params})


# -- kinds -------------------------------------------------------------------------------------------------


def test_every_zone_kind_in_use_has_chinese_words(zh):
    kinds = set(ZONE_KINDS) | set(mallgen.KIND_APPS) | set(plan.ZONE_COLOURS) | set(KIND_FOR_UNIT_CATEGORY.values())
    untranslated = {k for k in kinds if not re.search(r"[\u4e00-\u9fff]", zone_kind_label(k))}
    assert not untranslated  # galleria's stall, kiosk, anchor, lobby were shown as they are
    assert zone_kind_label("no-such-kind") == "no-such-kind"


def test_every_walkway_kind_has_chinese_words(zh):
    assert all(re.search(r"[\u4e00-\u9fff]", walk_kind_label(k)) for k in EDGE_KINDS)


def test_the_floor_editor_says_zone_kinds_in_chinese_and_still_sends_the_codes(client, ops):
    page = client.get(V + "/setup/floor/0?tool=zone&lang=zh").get_data(as_text=True)
    kinds = re.findall(r"<tr><td>[^<]*</td><td>[^<]*</td><td>([^<]*)</td>", page)  # id, names, kind
    assert kinds and not set(kinds) & set(ZONE_KINDS) and {"商店", "中庭"} <= set(kinds)
    assert '<option value="shop" >商店</option>' in page and ">shop</option>" not in page


def test_the_floor_editor_says_walkway_kinds_in_chinese(client, ops):
    page = client.get(V + "/setup/floor/0?tool=walkway&lang=zh").get_data(as_text=True)
    assert not re.search(r"\((elevator|escalator|stairs|ramp)\)", page)
    assert "(自动扶梯)" in page or "(电梯)" in page
    assert '<option value="escalator">自动扶梯</option>' in page


# -- operator pages ----------------------------------------------------------------------------------------


def test_the_walk_form_names_zones_in_chinese(client, ops, svc):
    page = client.get(V + "/walk?lang=zh").get_data(as_text=True)
    zone = next(z for z in svc.venues.get_map("demo").zones if z.name_zh)
    assert f">{zone.name_zh} ({zone.floor})</option>" in page
    assert f">{zone.name} ({zone.floor})</option>" not in page


def test_the_audit_log_says_sign_in_and_demo_load_in_words(client, ops, svc):
    AuditLog(svc.db).record("demo", "cli", SEED_ACTION)
    page = client.get(V + "/audit?lang=zh").get_data(as_text=True)
    # the words, then the code beside them (ops's own login is the newest entry); no longer the code alone
    assert '<td>已登录 <code class="small">login</code></td>' in page
    assert '<td>已载入演示数据 <code class="small">demo.load</code></td>' in page


def test_the_webhook_help_line_keeps_its_placeholders(client, ops):
    for lang, placeholder in (("en", "t=&lt;unix time&gt;,v1=&lt;HMAC"), ("zh", "t=&lt;Unix 时间&gt;,v1=&lt;用此密钥")):
        page = client.get(V + f"/moments?lang={lang}").get_data(as_text=True)
        assert placeholder in page and "<unix time>" not in page and "<Unix 时间>" not in page


def test_the_draft_page_says_its_ap_file_words_in_chinese(client, ops):
    resp = client.post(V + "/drafts?lang=zh", data={"csrf_token": ops.csrf(), "title": "扩建"})
    page = client.get(resp.headers["Location"] + "?lang=zh").get_data(as_text=True)
    assert "CSV / Ekahau .esx" not in page and "Ground Floor=0; Level 1=1" not in page
    assert "CSV 或 Ekahau（.esx）" in page and "首层=0; 二层=1" in page


def test_the_model_build_step_is_in_chinese(app, zh):
    state = {"state": "building", "step": "fitting", "progress": 0.5, "version": 2}
    page = render_template("operator/versions.html", venue="demo", current=2, rows=[], state=state)
    assert "fitting" not in visible_text(page) and "拟合" in page


def test_the_export_audit_says_whole_venue_in_chinese(zh):
    rows = audit_rows([{"scope": "2026-12-02 venue"}, {"scope": "month 2026-03-01..2026-03-31 venue"}])
    assert [r["scope"] for r in rows] == ["2026-12-02 全场", "月 2026-03-01 – 2026-03-31 全场"]


# -- owner, shopper and cinema pages -----------------------------------------------------------------------


def test_the_owners_app_choice_is_in_chinese_only(client, console):
    console.login("cinema")
    page = client.get("/console/owner/demo/zone/cinema?lang=zh").get_data(as_text=True)
    assert "影院选座" in page and "(Cinema seats)" not in page and "(Mall directory)" not in page
    page = client.get("/console/owner/demo/zone/cinema?lang=en").get_data(as_text=True)
    assert '<span class="small" lang="zh-CN">(影院选座)</span>' in page


def test_a_seats_kind_is_read_out_in_chinese(zh):
    page = render_template("cinema/_seatmap.html", layout=_LARGE, grid=seat_grid(_LARGE, {}), readonly=False)
    labels = re.findall(r'aria-label="[^"]*\(([^)]*)\)"', page)
    assert labels and not set(labels) & set(SEAT_KINDS.values())
    assert {"普通座", "情侣座"} <= set(labels)


def test_a_tickets_created_time_is_a_time(app):
    with app.test_request_context("/?lang=zh"):
        shown = _number("created", 1796193751.95)
    assert "1796193751" not in shown and re.search(r"\d\d:\d\d", shown)


# -- the pure library's errors -----------------------------------------------------------------------------


def test_a_non_zip_archive_is_refused_in_chinese(zh):
    with pytest.raises(archives.ArchiveProblem) as caught:
        archives.open_zip(b"hello, not a zip", "archive")
    assert isinstance(caught.value, CatalogInputError)
    assert str(caught.value).startswith("archive: not a zip archive, or a truncated one (")  # the CLI's words
    assert catalog_text(caught.value).startswith("archive：不是 zip 压缩包")


def test_an_encrypted_member_is_refused_in_chinese(zh):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("venue.geojson", "{}")
    [member] = zipfile.ZipFile(buf).infolist()
    member.flag_bits |= 0x1
    with pytest.raises(archives.ArchiveProblem) as caught:
        archives.read_member(zipfile.ZipFile(buf), member)
    assert catalog_text(caught.value) == "venue.geojson：已加密（有密码保护）；请上传不带密码的文件"


def test_an_imdf_error_has_a_catalog_headline(zh):
    problem = pytest.raises(archives.ArchiveProblem, archives.open_zip, b"x", "archive").value
    exc = ImdfError([problem])
    assert str(exc).startswith("invalid IMDF archive (1 problem(s)):\narchive: not a zip archive")
    assert exc.problems == [str(problem)] and exc.details == [problem]
    assert _(exc.template, **exc.params).startswith("IMDF 压缩包无效（1 个问题）：\n")


@pytest.mark.parametrize(("route", "zh_text"), [
    (b"ts,floor\n1,0\n", "route CSV：缺少列 ['x', 'y']"),
    (b"\xff\xfe", "route CSV：不是 UTF-8 文本（CSV）"),
    (b"ts,floor,x,y\nnow,0,1,1\n", "route CSV 第 2 行：ts、floor、x、y 必须是数字"),
])
def test_a_bad_route_csv_is_refused_in_chinese(zh, route, zh_text):
    with pytest.raises(ValueError) as caught:
        read_walk_csv(route, b"ts,ap,rssi\n")
    assert isinstance(caught.value, CatalogInputError) and catalog_text(caught.value) == zh_text


def test_the_import_page_says_a_non_zip_archive_in_chinese(client, ops):
    """The console shows the library's catalog error in the page's language (portal/errors.input_error_text)."""
    resp = client.post(V + "/setup/import-imdf?lang=zh", data={
        "csrf_token": ops.csrf(), "imdf": (io.BytesIO(b"not a zip at all"), "plan.zip")},
        content_type="multipart/form-data")
    text = visible_text(resp.get_data(as_text=True))
    # the library's own words are gone (zipfile's reason may stay in brackets, as the detail it is)
    assert "未导入任何内容" in text and "not a zip archive" not in text and "invalid IMDF" not in text


def test_a_plain_input_error_is_shown_as_its_message():
    """An InputError with no catalog message (its class's `template` is only str()'s format) is shown as its
    words, not as the format's literal "{message}"."""
    assert input_error_text(InputError("phone", "not a phone number")) == "not a phone number"
