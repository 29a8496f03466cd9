"""Reading a page's HTML as a browser would: the values it fills its forms with (for tests that post a form as the
page made it) and the text it shows (for tests of what a reader sees, not the markup's attributes)."""

from __future__ import annotations

import html
import re


def input_values(form: str, *names: str) -> dict[str, str]:
    """The `value` of each named input in `form` (a page or one form's HTML), as the page rendered it."""
    return {name: re.search(rf'name="{name}"[^>]*value="([^"]*)"', form).group(1) for name in names}


def visible_text(page: str) -> str:
    """The page's text as shown: scripts and styles dropped, tags turned to spaces, entities unescaped."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))
