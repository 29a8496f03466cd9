"""Language: an explicit ?lang= choice (kept in a cookie where cookies survive), else the browser's."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, request
from flask_babel import Babel, get_locale
from werkzeug.exceptions import HTTPException

LANGUAGES = ("zh", "en")


def select_locale() -> str:
    chosen = request.args.get("lang") or form_language() or request.cookies.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "en"


def form_language() -> str | None:
    """The `lang` a form carries (the captive sign-in sheet keeps no cookie, so the shopper's forms carry the
    choice, and the page a POST answers with must speak it too). Only from a urlencoded POST, whose body is
    cached before the form is parsed: a view that reads the raw body afterwards (a provider's signed callback)
    still gets all of it."""
    if request.method != "POST" or request.mimetype != "application/x-www-form-urlencoded":
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
