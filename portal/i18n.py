"""Language: an explicit ?lang= choice (kept in a cookie where cookies survive), else the browser's."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, request
from flask_babel import Babel, get_locale

LANGUAGES = ("zh", "en")


def select_locale() -> str:
    chosen = request.args.get("lang") or request.cookies.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "en"


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
