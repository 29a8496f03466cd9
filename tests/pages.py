"""Reading a page's HTML as a browser would fill its forms (for tests that post a form as the page made it)."""

from __future__ import annotations

import re


def input_values(form: str, *names: str) -> dict[str, str]:
    """The `value` of each named input in `form` (a page or one form's HTML), as the page rendered it."""
    return {name: re.search(rf'name="{name}"[^>]*value="([^"]*)"', form).group(1) for name in names}
