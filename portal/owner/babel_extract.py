"""Babel extractor for Python files that also collects light-app config labels.

The owner console shows each app's `ConfigField` labels and help texts through gettext, but the apps
write them as plain strings (the registry is imported before any locale exists). This extractor runs
Babel's ordinary Python extractor and adds the string literals given as a config field's `label`
(second positional argument or keyword) and `help`, so `pybabel extract` puts them in the catalog. A config
field is any call whose callee's name ends in `Field`: ConfigField and an app's own subclasses of it
(EntranceField, HoursField, ...), whose labels the console shows just the same.
babel.cfg maps every .py file to it."""

from __future__ import annotations

import ast
import io
from collections.abc import Iterator

from babel.messages.extract import extract_python

CONFIG_FIELD_STRINGS = ("label", "help")
FIELD_SUFFIX = "Field"  # ConfigField and the apps' subclasses; a call of another *Field without strings adds none


def _literal(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip():
        return node.value
    return None


def config_field_strings(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every ConfigField(...) (or subclass: any `...Field(`) label/help literal in a source."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if not name.endswith(FIELD_SUFFIX):
            continue
        if len(node.args) >= 2 and (text := _literal(node.args[1])):
            yield node.args[1].lineno, text
        for keyword in node.keywords:
            if keyword.arg in CONFIG_FIELD_STRINGS and (text := _literal(keyword.value)):
                yield keyword.value.lineno, text


def extract_lightapp(fileobj, keywords, comment_tags, options):
    data = fileobj.read()
    yield from extract_python(io.BytesIO(data), keywords, comment_tags, options)
    source = data.decode(options.get("encoding", "utf-8"), errors="replace")
    for lineno, text in config_field_strings(source):
        yield lineno, None, text, ["config field of a light app"]
