"""No raw MAC address, phone number or shopper token in the application's own log lines.

`RedactingFilter` rewrites a record's message (after %-formatting) and its traceback with each of them
replaced by a placeholder; `install()` puts it on the handlers of the root and gunicorn loggers and in the log-record
factory, so records from any logger, and handlers added later (a test's caplog), are covered too. The
access log never gets a query string in the first place (gunicorn.conf.py); this is the second line."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from urllib.parse import quote

# A shopper token (portal/shopper.py): <venue>.<URL-safe base64: 32 random bytes, or a sealed record>; `c=`,
# `client_mac=` and `t=` (a console invite or reset link's secret) values of a URL in whatever form; `secret=`
# (WeChat's code exchange for JSAPI: urllib3 logs its URL at DEBUG, which carries the AppSecret and the sign-in code,
# a code that counts once; the shopper's openid comes back in the answer's body, never in a URL) and `openid=` (no
# URL of ours carries one: a second line, should a request or a provider's error ever name one so); MACs with
# separators, or as 12 bare hex digits; numbers with + and a country code, and Chinese mobile numbers.
_PATTERNS = (
    (re.compile(r"\b(c|t|client_mac|mac|phone|token|secret|openid)=[^&\s\"'<>]+", re.IGNORECASE),
     r"\1=[redacted]"),
    (re.compile(r"\b[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{40,}"), "[token]"),
    (re.compile(r"\b[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}\b"), "[mac]"),
    (re.compile(r"(?<![0-9A-Za-z])[0-9A-Fa-f]{12}(?![0-9A-Za-z])"), "[mac]"),
    (re.compile(r"(?<![0-9A-Za-z.])[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}(?![0-9A-Za-z.])"), "[mac]"),
    (re.compile(r"(?<![\w+])\+\d[\d \-]{6,18}\d(?!\w)"), "[phone]"),  # + and the country code
    (re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)"), "[phone]"),  # a Chinese mobile number without it
)


# The access logs' path (gunicorn.conf.py, deploy/nginx.conf) is the route's, from a response header the app sets
# (portal/headers.py): a path's own values are secrets too (the CAPPORT URI's token, coupon, prize and ticket codes,
# payment order and session ids, user names). Only these route variables are filled in; the rest stay `<name>`,
# so a new route's variable is masked until it is added here.
LOGGED_PATH_HEADER = "X-Logged-Path"
LOGGABLE_PATH_VARIABLES = frozenset({
    "venue", "zone", "level", "provider", "kind", "network", "site", "fmt", "day", "action", "bssid", "filename",
    "item_id", "draft_id", "walk_id", "show_id", "image_id", "coupon_id", "rule_id", "shop_id", "shop", "webhook",
    "delivery_id",
})
# On a shopper's pages (/v/...) the zone and floor are where the phone was placed: beside the client address in the
# access log they would be a location trail that neither the shopper's consent nor her erasure reaches. The consoles
# keep them (an owner's or operator's zone is no one's whereabouts).
SHOPPER_PATH_PREFIX = "/v/"
SHOPPER_MASKED_VARIABLES = frozenset({"zone", "level"})
_ROUTE_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([A-Za-z_][A-Za-z0-9_]*)>")


def logged_path(rule: str | None, values: Mapping[str, object] | None, path: str) -> str:
    """The path an access log shows: the matched route's (`rule`, werkzeug's syntax) with the loggable variables'
    `values` filled in (URL-quoted: no newline or quote reaches a log line) and the others left as `<name>`; a path
    no route matched, as it is but redacted (on a shopper's page only its venue: the rest may name her zone)."""
    if rule is None:
        if path.startswith(SHOPPER_PATH_PREFIX):
            venue = path[len(SHOPPER_PATH_PREFIX):].split("/", 1)[0]
            return quote(SHOPPER_PATH_PREFIX + redact(venue) + "/<unmatched>", safe="/:@!$&'()*+,;=[]<>")
        return quote(redact(path), safe="/:@!$&'()*+,;=[]")
    values = values or {}
    masked = SHOPPER_MASKED_VARIABLES if rule.startswith(SHOPPER_PATH_PREFIX) else frozenset()

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name in LOGGABLE_PATH_VARIABLES and name in values and name not in masked:
            return quote(str(values[name]), safe="/")  # a <path:...> value keeps its slashes
        return f"<{name}>"

    return _ROUTE_VARIABLE.sub(fill, rule)


def redact(text: str) -> str:
    for pattern, placeholder in _PATTERNS:
        text = pattern.sub(placeholder, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites the record's message in place; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_redacted", False):
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed %-format: leave it to the handler to report
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        # A traceback repeats the values the failing code held (a URL, a phone number in an exception's
        # message): formatted here, redacted, and left in exc_text, which every Formatter prints as is.
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(_TRACEBACKS.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record._redacted = True
        return True


_FILTER = RedactingFilter()
_TRACEBACKS = logging.Formatter()


def install() -> None:
    """Idempotent: the app factory, the tracker and gunicorn's config each call it."""
    for name in (None, "gunicorn.error", "gunicorn.access"):
        logger = logging.getLogger(name)
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
    factory = logging.getLogRecordFactory()
    if getattr(factory, "redacting", False):
        return

    def redacting_factory(*args, **kwargs) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        _FILTER.filter(record)
        return record

    redacting_factory.redacting = True
    logging.setLogRecordFactory(redacting_factory)
