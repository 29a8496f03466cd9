"""The translation catalogs: extract, update, compile, check.

    python -m portal.owner.catalog update    extract every message (Python, Jinja2 templates, light-app
                                             config labels) into translations/messages.pot, merge it into
                                             each language's messages.po, and list what is untranslated;
                                             a file whose messages did not change is left as it is (not
                                             rewritten for a new POT-Creation-Date)
    python -m portal.owner.catalog compile   .po -> .mo (the Makefile does this at install)
    python -m portal.owner.catalog check     exit 1 if a message is missing or untranslated

Each says in a line what it did (and `update` and `check` list each message missing or untranslated).

Chinese (zh) is the one translated language; English is the source language."""

from __future__ import annotations

import contextlib
import re
import shutil
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


# The header line that changes at every extraction: a file differing from its new text only there is not rewritten.
_CREATION_DATE = re.compile(rb'^"POT-Creation-Date: [^"]*"\n', re.M)


def _same_but_the_date(a: Path, b: Path) -> bool:
    return (a.exists() and b.exists()
            and _CREATION_DATE.sub(b"", a.read_bytes()) == _CREATION_DATE.sub(b"", b.read_bytes()))


def _keep_or_replace(new: Path, old: Path) -> bool:
    """Put `new` in place of `old` unless they differ only in the POT-Creation-Date: True if `old` was written."""
    if _same_but_the_date(new, old):
        return False
    old.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(new, old)
    return True


def _shown(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)


def update() -> list[str]:
    """Extract the template and merge it into each language's catalog, both in a scratch folder; a file is written
    only where its messages changed (not for the extraction's date alone). What was done, a line per file."""
    done = []
    with tempfile.TemporaryDirectory() as scratch:
        template = extract(Path(scratch) / "messages.pot")
        count = sum(1 for m in template if m.id)
        wrote = _keep_or_replace(Path(scratch) / "messages.pot", POT)
        done.append(f"{_shown(POT)}: {'updated' if wrote else 'unchanged'} ({count} messages)")
        for lang in LANGUAGES:
            merged = Path(scratch) / lang / "messages.po"
            merged.parent.mkdir()
            if po_path(lang).exists():
                shutil.copyfile(po_path(lang), merged)
                _pybabel("update", "-i", str(POT), "-o", str(merged), "-l", lang, "--no-fuzzy-matching",
                         "--ignore-obsolete")
            else:
                _pybabel("init", "-i", str(POT), "-o", str(merged), "-l", lang)
            wrote = _keep_or_replace(merged, po_path(lang))
            done.append(f"{_shown(po_path(lang))}: {'updated' if wrote else 'unchanged'}")
    return done


def compile_all() -> list[str]:
    """Each language's .po compiled to its .mo: what was done, a line per language."""
    _pybabel("compile", "-d", str(TRANSLATIONS))
    return [f"{_shown(mo_path(lang))}: compiled ({len(translations(load_mo(lang)))} messages)"
            for lang in LANGUAGES if mo_path(lang).exists()]


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
        for line in update():
            sys.stdout.write(f"{line}\n")
    elif command == "compile":
        for line in compile_all():
            sys.stdout.write(f"{line}\n")
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
        before = problems
        for msgid in missing(template, lang):
            sys.stdout.write(f"{lang}: missing: {msgid!r}\n")
            problems += 1
        for msgid in untranslated(lang):
            sys.stdout.write(f"{lang}: untranslated: {msgid!r}\n")
            problems += 1
        if command == "check" and problems == before:
            sys.stdout.write(f"{lang}: all {sum(1 for m in template if m.id)} messages translated\n")
    return 1 if problems else 0


def _tmp_pot() -> Path:
    return Path(tempfile.mkdtemp()) / "messages.pot"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
