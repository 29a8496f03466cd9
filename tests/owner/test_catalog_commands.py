"""`python -m portal.owner.catalog update|compile|check` on a catalog folder of the test's own: `update` writes a file
only where its messages changed (a new POT-Creation-Date alone leaves the tree clean), and each command says in a
line what it did."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from portal.owner import catalog


class FakeCode:
    """What `extract` finds in the code: these messages, extracted at `now` (each extraction has its own date)."""

    def __init__(self) -> None:
        self.messages = ["Home", "Sign in"]
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def extract(self, output: Path = catalog.POT) -> Catalog:
        template = Catalog(project="MallPortal", creation_date=self.now)
        for message in self.messages:
            template.add(message, locations=[("portal/x.py", None)])
        with output.open("wb") as f:
            write_po(f, template, sort_output=True)
        with output.open("rb") as f:
            return read_po(f)


@pytest.fixture
def code(tmp_path, monkeypatch) -> FakeCode:
    fake = FakeCode()
    monkeypatch.setattr(catalog, "TRANSLATIONS", tmp_path / "translations")
    monkeypatch.setattr(catalog, "POT", tmp_path / "translations" / "messages.pot")
    monkeypatch.setattr(catalog, "extract", fake.extract)
    return fake


def files() -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in sorted(catalog.TRANSLATIONS.rglob("*")) if path.is_file()}


def translate_all() -> None:
    po = catalog.po_path("zh")
    po.write_text(re.sub(r'(msgid "(?!")([^"]+)"\nmsgstr )""', r'\1"zh \2"', po.read_text()))


def test_update_leaves_the_files_alone_when_only_the_date_would_change(code, capsys):
    pot, po = catalog.POT, catalog.po_path("zh")
    assert catalog.main(["update"]) == 1  # a new language: both untranslated
    said = capsys.readouterr().out.splitlines()
    assert said[:2] == [f"{pot}: updated (2 messages)", f"{po}: updated"]
    assert "zh: untranslated: 'Home'" in said
    translate_all()
    before = files()
    code.now += timedelta(hours=3)  # a later extraction, the same messages
    assert catalog.main(["update"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{pot}: unchanged (2 messages)", f"{po}: unchanged"]
    assert files() == before  # not rewritten: the tree stays clean
    code.messages.append("Sign out")  # a new message: both written, the new date with it
    assert catalog.main(["update"]) == 1
    assert capsys.readouterr().out.splitlines() == [f"{pot}: updated (3 messages)", f"{po}: updated",
                                                    "zh: untranslated: 'Sign out'"]
    assert b"POT-Creation-Date: 2026-12-01 12:00" in pot.read_bytes()
    assert b'msgstr "zh Home"' in po.read_bytes()  # the translations kept


def test_compile_and_check_say_what_they_did(code, capsys):
    catalog.main(["update"])
    translate_all()
    capsys.readouterr()
    assert catalog.main(["compile"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{catalog.mo_path('zh')}: compiled (2 messages)"]
    assert catalog.main(["check"]) == 0
    assert capsys.readouterr().out.splitlines() == ["zh: all 2 messages translated"]
