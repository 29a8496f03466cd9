"""Owner-written texts in two languages: the one rule for which of the two a shopper sees.

Owners type a text (a coupon's title, an activity's description, a partner link's label, a film or dish
name, a shop's description) in Chinese, in English or in both. A shopper sees it in the page's language;
when the owner wrote only the other language, that one is shown with a small visible tag ("EN" / "中文")
and its own `lang` attribute, so a screen reader switches voice and the shopper knows why. Stores keep the
pair as `<name>_zh` / `<name>_en`; forms read them with `read_pair`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from core.errors import N_, CatalogInputError, InputError

LANG_TAGS = {"en": "EN", "zh": "中文"}  # the marker on a text shown in the other language


@dataclass(frozen=True, eq=False)
class Localized:
    """The text a shopper sees, its language and whether it is the fallback (not the page's language)."""

    text: str
    lang: str  # "zh" | "en": the language the text is written in
    fallback: bool = False

    def __str__(self) -> str:  # plain text: titles, notifications, alt text
        return self.text

    def __bool__(self) -> bool:
        return bool(self.text)

    def __eq__(self, other: object) -> bool:  # equal to its text: code that compared the plain title still may
        if isinstance(other, Localized):
            return (self.text, self.lang, self.fallback) == (other.text, other.lang, other.fallback)
        return isinstance(other, str) and self.text == other

    def __hash__(self) -> int:
        return hash(self.text)

    def __html__(self) -> str:
        if not self.fallback:
            return str(escape(self.text))
        return str(Markup('<span lang="{lang}">{text}</span> <small class="lang-tag" lang="{lang}">{tag}</small>')
                   .format(lang=self.lang, text=self.text, tag=LANG_TAGS[self.lang]))


def pick(text_zh: str | None, text_en: str | None, zh: bool) -> Localized:
    """The owner's text in the shopper's language (`zh`: the page is Chinese), else the other one, marked."""
    text_zh, text_en = (text_zh or "").strip(), (text_en or "").strip()
    wanted, other = ((text_zh, "zh"), (text_en, "en")) if zh else ((text_en, "en"), (text_zh, "zh"))
    if wanted[0] or not other[0]:
        return Localized(wanted[0], wanted[1])
    return Localized(other[0], other[1], fallback=True)


def pick_from(fields: Mapping[str, Any], name: str, zh: bool) -> Localized:
    """`pick` over a record's `<name>_zh` / `<name>_en` (a config, a stored hash decoded to str)."""
    return pick(fields.get(f"{name}_zh"), fields.get(f"{name}_en"), zh)


def read_catalog_pair(form: Mapping[str, Any], name: str, max_length: int,
                      error: Callable[..., CatalogInputError], required: str = "") -> dict[str, str]:
    """`read_pair` refusing with catalog messages (`error`, a CatalogInputError class): `required`, the
    message when both are empty ("": both may be); one too long is told its limit."""

    def refuse(field: str, _english: str) -> CatalogInputError:
        if len(one_newline(str(form.get(field) or "")).strip()) > max_length:
            return error(field, N_("%(label)s must be at most %(n)s characters."), n=max_length)
        return error(field, required)

    return read_pair(form, name, max_length, required=bool(required), error=refuse)


def one_newline(text: str) -> str:
    """A textarea's line breaks as "\n": a browser sends each as CRLF (HTML form submission) but counts it as
    one character against the box's maxlength, so a box filled to its limit would be refused as too long."""
    return text.replace("\r\n", "\n")


def read_pair(form: Mapping[str, Any], name: str, max_length: int, *, required: bool = False,
              error: Callable[[str, str], InputError] = InputError) -> dict[str, str]:
    """`{name_zh, name_en}` from a form, stripped; `error(field, message)` when one is too long, or when
    `required` and both are empty (one language is enough)."""
    pair = {}
    for lang in ("zh", "en"):
        field = f"{name}_{lang}"
        value = one_newline(str(form.get(field) or "")).strip()
        if len(value) > max_length:
            raise error(field, f"{field} must be at most {max_length} characters")
        pair[field] = value
    if required and not any(pair.values()):
        raise error(f"{name}_zh", f"{name} is required in Chinese or English (or both)")
    return pair
