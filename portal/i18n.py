"""Language: an explicit ?lang= choice (kept in a cookie where cookies survive), else the browser's: its
Accept-Language, or where it sends none (WeChat's, Douyin's and old Android browsers' in-app pages), the locale its
user agent names. Venues keep no language of their own: English where neither says."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from flask import Flask, request
from flask_babel import Babel, get_locale
from werkzeug.exceptions import HTTPException

from portal.errors import is_shopper_path

LANGUAGES = ("zh", "en")
# A shopper's form is a few fields: a larger body is no form of theirs, and is not parsed for its language.
FORM_LANGUAGE_MAX_BYTES = 64 * 1024
# A locale a user agent names: `Language/zh_CN` (WeChat), `ByteLocale/zh-CN` (Douyin), `Language/zh-Hans` (Alipay),
# or a tag with its region among the platform's words, `(Linux; U; Android 12; zh-cn; …)` (a region is required
# there: Android's WebView writes `; wv)`).
UA_LOCALE = re.compile(r"\b(?:Language|ByteLocale|Locale)/([a-z]{2})(?![a-z])|[;(]\s*([a-z]{2})[-_][a-z]{2,4}\s*[;)]",
                       re.IGNORECASE)
UA_MAX_CHARS = 1024  # a longer User-Agent is read this far


def select_locale() -> str:
    chosen = chosen_lang() or request.cookies.get("lang")
    if chosen in LANGUAGES:
        return chosen
    if not request.headers.get("Accept-Language", "").strip():
        return user_agent_language() or "en"
    return request.accept_languages.best_match(LANGUAGES) or "en"


def user_agent_language() -> str | None:
    """The first of LANGUAGES among the locales the request's User-Agent names (UA_LOCALE), for a browser that sends
    no Accept-Language; None when it names none of them. An app's own setting (`Language/zh_CN`) comes before the
    platform's locale (`; en-us;`): WeChat set to Chinese on a phone set to English writes both, and its pages are
    in Chinese."""
    matches = UA_LOCALE.finditer(request.headers.get("User-Agent", "")[:UA_MAX_CHARS])
    # sorted() is stable: the app's settings first, each kind in the order the user agent names them
    for match in sorted(matches, key=lambda m: m.group(1) is None):
        language = (match.group(1) or match.group(2)).lower()
        if language in LANGUAGES:
            return language
    return None


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
