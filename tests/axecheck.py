"""axe-core on every page the browser tests visit (issue 17): zero serious or critical findings.

axe-core comes from the pinned `axe-playwright-python` package (it ships axe.min.js inside the wheel, so
nothing is fetched at test time and the version moves only with the pin in pyproject.toml).

How "every page" is reached without touching every test: `watch(browser)` wraps the Playwright calls that
leave a page (goto, click, tap, press, back, reload, and closing a page or context) so that the document
still on screen is checked first. A check inside a navigation (a route handler or an event) would race the
page it checks; before the next action the page is standing still, so the result does not depend on timing.
Each page path is checked once a session (ids and tokens in the path count as one), which keeps the cost
to about one axe run per distinct page. Pages in a context with JavaScript off cannot run axe in place: their
HTML (what the shopper got) is replayed into a JavaScript-on page of the same size and checked there.
"""

from __future__ import annotations

import os
import re
import threading
from functools import wraps
from urllib.parse import urlsplit

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, ElementHandle, Error, Locator, Page

BLOCKING_IMPACTS = ("serious", "critical")
SURVEY_FILE = os.environ.get("AXE_SURVEY")  # a path: list the findings there instead of failing the tests

_axe = Axe()
_checked_paths: set[str] = set()
_lock = threading.Lock()
_replay: dict[str, Page] = {}  # viewport -> the JavaScript-on page that replays JavaScript-off HTML
_ID_LIKE = re.compile(r"\d|^[A-Za-z0-9_-]{16,}$")


class AccessibilityError(AssertionError):
    pass


def page_key(url: str) -> str:
    """The page a URL shows, ids and tokens folded: /v/demo/cinema/show/3f9a... -> /v/*/cinema/show/*."""
    parts = urlsplit(url).path.split("/")
    return "/".join("*" if _ID_LIKE.search(part) or i == 2 and parts[1] == "v" else part
                    for i, part in enumerate(parts))


def blocking_findings(response: dict) -> list[dict]:
    return [v for v in response["violations"] if v.get("impact") in BLOCKING_IMPACTS]


def report(url: str, findings: list[dict]) -> str:
    lines = [f"axe-core: {len(findings)} serious/critical finding(s) on {url}"]
    for finding in findings:
        targets = ", ".join(" ".join(node["target"]) for node in finding["nodes"][:4])
        lines.append(f"- {finding['id']} ({finding['impact']}): {finding['help']} [{targets}]")
    return "\n".join(lines)


def run_axe(page: Page) -> list[dict]:
    """Blocking findings on the page as it stands (JavaScript on); [] for a document that is not HTML."""
    if not page.evaluate("document.doctype !== null && document.contentType === 'text/html'"):
        return []
    return blocking_findings(_axe.run(page).response)


def _replay_page(page: Page) -> Page:
    size = page.viewport_size or {"width": 1000, "height": 800}
    key = f"{size['width']}x{size['height']}"
    if key not in _replay:
        _replay[key] = page.context.browser.new_context(viewport=size).new_page()
    return _replay[key]


def _run_axe_on_html(page: Page, url: str, html: str) -> list[dict]:
    checker = _replay_page(page)

    def serve(route):
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)

    def is_this(candidate: str) -> bool:
        return candidate == url

    checker.route(is_this, serve)
    try:
        checker.goto(url)
        return run_axe(checker)
    finally:
        checker.unroute(is_this, serve)


def check_page(page: Page | None) -> None:
    """Run axe on the page unless a page of its path was already checked; raise on serious findings."""
    if page is None or page.is_closed():
        return
    url = page.url
    if not url.startswith("http"):
        return
    key = page_key(url)
    with _lock:
        if key in _checked_paths:
            return
    try:
        if getattr(page.context, "javascript_off", False):
            html = page.content()
            if not html.lstrip().lower().startswith("<!doctype html"):
                return
            findings = _run_axe_on_html(page, url.split("#")[0], html)
        else:
            findings = run_axe(page)
    except Error:
        return  # the page was navigating (a script's redirect): it is checked before the next action instead
    with _lock:
        _checked_paths.add(key)
    if findings and SURVEY_FILE:  # a survey of the whole suite: every finding written down, none fails
        with open(SURVEY_FILE, "a", encoding="utf-8") as out:
            out.write(report(url, findings) + "\n")
    elif findings:
        raise AccessibilityError(report(url, findings))


def _before(method, page_of):
    @wraps(method)
    def checked(self, *args, **kwargs):
        check_page(page_of(self))
        return method(self, *args, **kwargs)

    return checked


def _close_after_check(method):
    @wraps(method)
    def close(self: BrowserContext, *args, **kwargs):
        try:
            for page in list(self.pages):
                check_page(page)
        finally:
            method(self, *args, **kwargs)

    return close


def _page_of_handle(handle: ElementHandle) -> Page | None:
    frame = handle.owner_frame()
    return frame.page if frame else None


_installed = False


def watch(browser: Browser) -> None:
    """Check every page before the tests leave it (see the module doc); once per process."""
    global _installed
    if _installed:
        return
    _installed = True
    for name in ("goto", "click", "tap", "press", "go_back", "go_forward", "reload", "close"):
        setattr(Page, name, _before(getattr(Page, name), lambda page: page))
    for name in ("click", "tap", "press", "dblclick"):
        setattr(Locator, name, _before(getattr(Locator, name), lambda locator: locator.page))
    ElementHandle.click = _before(ElementHandle.click, _page_of_handle)
    BrowserContext.close = _close_after_check(BrowserContext.close)
