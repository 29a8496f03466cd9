"""Language: an explicit ?lang= choice (kept in a cookie where cookies survive), else the browser's."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, request
from flask_babel import Babel, get_locale
from werkzeug.exceptions import HTTPException

from portal.errors import is_shopper_path

LANGUAGES = ("zh", "en")
# A shopper's form is a few fields: a larger body is no form of theirs, and is not parsed for its language.
FORM_LANGUAGE_MAX_BYTES = 64 * 1024


def select_locale() -> str:
    chosen = chosen_lang() or request.cookies.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "en"


def chosen_lang() -> str | None:
    """The one rule for the language the shopper chose on this request, for the page and for every link and
    form it carries on (the captive sign-in sheet keeps no cookie): `?lang=`, else a shopper form's `lang`;
    None unless it is one of LANGUAGES."""
    for chosen in (request.args.get("lang"), form_language()):
        if chosen in LANGUAGES:
            return chosen
    return None


def form_language() -> str | None:
    """The `lang` a shopper's form carries (the captive sign-in sheet keeps no cookie, so the shopper's forms
    carry the choice, and the page a POST answers with must speak it too). Only a small urlencoded POST to a
    shopper page: a machine endpoint's body (a provider's callback, a controller's report) is never parsed for
    it, nor does it choose the language of the answer. The body is cached before the form is parsed, so a
    view that reads the raw body afterwards still gets all of it."""
    if (request.method != "POST" or request.mimetype != "application/x-www-form-urlencoded"
            or not is_shopper_path(request.path)
            or request.content_length is None or request.content_length > FORM_LANGUAGE_MAX_BYTES):
        return None
    try:
        request.get_data(cache=True)
        return request.form.get("lang")
    except HTTPException:  # too large, cut off: the error page that says so must not fail on its language
        return None


def init_i18n(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "../translations")
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters["urlencode_without"] = urlencode_without
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["chosen_lang"] = chosen_lang

    @app.after_request
    def _remember_language(response):
        chosen = request.args.get("lang")
        if chosen in LANGUAGES:
            response.set_cookie("lang", chosen, max_age=365 * 86400, samesite="Lax")
        return response


def urlencode_without(args, drop: str) -> str:
    """Query string of `args` minus one key, ending in '&' when not empty (for language links)."""
    pairs = [(k, v) for k, v in args.items(multi=True) if k != drop]
    return urlencode(pairs) + "&" if pairs else ""
