"""A 375 px phone for the accessibility and page-weight tests, and what they measure on it."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.axecheck import page_key
from tests.browsers import IPHONE_UA

PHONE = {"width": 375, "height": 740}
MIN_TARGET_PX = 44  # WCAG 2.5.5 (AAA) and Apple's guideline: every tap target on a shopper page
MIN_SEAT_PX = 32  # cinema seats: a dense grid that scrolls sideways (and zooms), each seat at least this
EDGE_GAP_PX = 8
PER_LISTING = 2  # "Continue to the internet" keeps off the screen's edge

# Pages the crawl leaves alone: the one-time keep link (spent on first use), partner links (they leave the
# mall's site), files and APIs, consoles.
_SKIP = ("/keep", "/out/", "/api/", "/console", ".svg", ".png", ".json", ".csv", ".ics")


def phone_context(browser, **options):
    return browser.new_context(**{"viewport": PHONE, "user_agent": IPHONE_UA, "is_mobile": True, "has_touch": True,
                                  "device_scale_factor": 2, **options})


# Every visible tap target, with its size. A checkbox or radio counts by its label (the seats are labels
# over hidden checkboxes). A link inside a sentence is left out: WCAG 2.5.8's inline exception (its height
# is the text's line), like the links in the privacy notice's text. A sentence is running text: words of the
# link's parent element outside any link, button or form control (the text of other tap targets beside it is
# no sentence: the header's mall-name link beside the language switch is measured), in a parent that is no
# list item, table cell, menu or header.
MEASURE_TARGETS = """() => {
  const found = [];
  // Punctuation and the separators of a row of links ("A · B", "A | B") are no words.
  const NOT_WORDS = /[\\s.,;:!?()|\\u00b7\\u2022\\u3000-\\u303f\\uff08\\uff09\\uff0c\\uff1a]/g;
  const words = (text) => (text || '').replace(NOT_WORDS, '');
  const CONTROLS = 'a, button, input, select, textarea, script, style';
  const ownText = (block) => {
    let text = '';
    const walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const control = node.parentElement.closest(CONTROLS);
      if (!control || !block.contains(control)) text += node.data;
    }
    return text;
  };
  const inSentence = (a) => {
    const block = a.parentElement;
    return block && !block.matches('li, nav, td, header') && words(ownText(block)).length > 0;
  };
  for (const el of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea')) {
    let target = el;
    if (el.matches('input[type=checkbox], input[type=radio]')) target = el.closest('label') || el;
    if (el.matches('a') && inSentence(el)) continue;
    const box = target.getBoundingClientRect();
    const style = getComputedStyle(target);
    if (box.width === 0 || box.height === 0 || style.visibility === 'hidden') continue;
    const seat = target.closest('.seatmap') !== null;
    found.push({seat, id: el.id, text: (target.innerText || el.value || el.name || '').trim().slice(0, 30),
                tag: el.tagName.toLowerCase(), width: box.width, height: box.height,
                left: box.left, right: box.right});
  }
  return found;
}"""


def small_targets(targets: list[dict]) -> list[dict]:
    return [t for t in targets
            if min(t["width"], t["height"]) < (MIN_SEAT_PX if t["seat"] else MIN_TARGET_PX) - 0.5]


def shopper_links(page, origin: str, venue_prefix: str) -> list[str]:
    """Same-site GET links of a shopper page, in document order."""
    hrefs = page.eval_on_selector_all("a[href]:not([download])", "els => els.map(a => a.href)")
    links = []
    for href in hrefs:
        parts = urlsplit(href)
        if f"{parts.scheme}://{parts.netloc}" != origin or not parts.path.startswith(venue_prefix):
            continue
        if any(skip in parts.path for skip in _SKIP):
            continue
        links.append(href.split("#")[0])
    return links


def crawl(page, start: str, venue_prefix: str, limit: int):
    """Breadth-first over the distinct shopper pages from `start` (one of each path shape, at most
    PER_LISTING of one listing such as the shops); yields each page once it is loaded, so the caller measures
    it in place."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(start))
    queue, seen = [start], {page_key(start)}
    listings: dict[str, int] = {}
    visited = 0
    while queue and visited < limit:
        url = queue.pop(0)
        response = page.goto(url)
        if response is None or response.status != 200 or "text/html" not in response.headers.get("content-type", ""):
            continue
        visited += 1
        yield url
        for link in shopper_links(page, origin, venue_prefix):
            key = page_key(link)
            listing = key.rstrip("/").rsplit("/", 1)[0]
            if key not in seen and listings.get(listing, 0) < PER_LISTING:
                seen.add(key)
                listings[listing] = listings.get(listing, 0) + 1
                queue.append(link)
