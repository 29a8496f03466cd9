"""The translation catalogs: extract, update, compile, check.

    python -m portal.owner.catalog update    extract every message (Python, Jinja2 templates, light-app
                                             config labels) into translations/messages.pot, merge it into
                                             each language's messages.po, and list what is untranslated
    python -m portal.owner.catalog compile   .po -> .mo (the Makefile does this at install)
    python -m portal.owner.catalog check     exit 1 if a message is missing or untranslated

Chinese (zh) is the one translated language; English is the source language."""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from core.settings import PROJECT_ROOT

TRANSLATIONS = PROJECT_ROOT / "translations"
POT = TRANSLATIONS / "messages.pot"
LANGUAGES = ("zh",)
IGNORE_DIRS = ".* ._ tests var bench build node_modules"
KEYWORDS = ("_l", "lazy_gettext")


def po_path(lang: str) -> Path:
    return TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"


def mo_path(lang: str) -> Path:
    return po_path(lang).with_suffix(".mo")


def _pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])


def extract(output: Path = POT) -> Catalog:
    args = ["extract", "-F", str(PROJECT_ROOT / "babel.cfg"), "--ignore-dirs", IGNORE_DIRS, "--sort-output",
            "--add-location", "file", "--project", "MallPortal", "--copyright-holder", "MallPortal",
            "-o", str(output)]
    for keyword in KEYWORDS:
        args += ["-k", keyword]
    with contextlib.chdir(PROJECT_ROOT):  # relative paths in the location comments
        _pybabel(*args, ".")
    with output.open("rb") as f:
        return read_po(f)


def update() -> None:
    extract()
    for lang in LANGUAGES:
        if po_path(lang).exists():
            _pybabel("update", "-i", str(POT), "-d", str(TRANSLATIONS), "-l", lang, "--no-fuzzy-matching",
                     "--ignore-obsolete")
        else:
            _pybabel("init", "-i", str(POT), "-d", str(TRANSLATIONS), "-l", lang)


def compile_all() -> None:
    _pybabel("compile", "-d", str(TRANSLATIONS))


def load_po(lang: str) -> Catalog:
    with po_path(lang).open("rb") as f:
        return read_po(f, locale=lang)


def load_mo(lang: str) -> Catalog:
    with mo_path(lang).open("rb") as f:
        return read_mo(f)


def _forms(value) -> tuple[str, ...]:
    """A message's id or translation as a tuple (plural messages have several forms)."""
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


def _key(msgid) -> str:
    return _forms(msgid)[0]


def _context(message) -> str | None:
    """A message's context (pgettext's first argument; bytes as read from a .mo file)."""
    context = message.context
    return context.decode() if isinstance(context, bytes) else context


def _name(message) -> str:
    """A message as reports name it and catalogs are compared by: its id (the singular for plurals), after
    its context if it has one (`nav|Home` and `Home` are two messages, with two translations)."""
    context = _context(message)
    return f"{context}|{_key(message.id)}" if context else _key(message.id)


def translations(cat: Catalog) -> dict[str, tuple[str, ...]]:
    """{message name (`_name`): translated forms} of every message but the header."""
    return {_name(m): _forms(m.string) for m in cat if m.id}


def untranslated(lang: str) -> list[str]:
    return sorted(_name(m) for m in load_po(lang)
                  if m.id and (m.fuzzy or not all(_forms(m.string)) or not _forms(m.string)))


def missing(template: Catalog, lang: str) -> list[str]:
    """The template's messages the language's catalog lacks, each with its context (`id in catalog` alone
    would find a contexted message's id under another context, or none)."""
    po = load_po(lang)
    return sorted(_name(m) for m in template if m.id and po.get(m.id, context=_context(m)) is None)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "update":
        update()
    elif command == "compile":
        compile_all()
        return 0
    elif command != "check":
        sys.stderr.write(__doc__)
        return 2
    if command == "update":
        with POT.open("rb") as f:
            template = read_po(f)
    else:
        template = extract(_tmp_pot())
    problems = 0
    for lang in LANGUAGES:
        for msgid in missing(template, lang):
            sys.stdout.write(f"{lang}: missing: {msgid!r}\n")
            problems += 1
        for msgid in untranslated(lang):
            sys.stdout.write(f"{lang}: untranslated: {msgid!r}\n")
            problems += 1
    return 1 if problems else 0


def _tmp_pot() -> Path:
    return Path(tempfile.mkdtemp()) / "messages.pot"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
