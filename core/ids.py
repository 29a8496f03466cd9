"""The one rule for a venue id arriving in a request (a URL, a form, a token): what may be looked up."""

from __future__ import annotations

import re

# ASCII letters and digits, then - and _ too, at most 64 characters. `fullmatch`: no trailing newline
# slips through as it would with `$`, and \w is not used since it matches any script's letters. The ids
# venues are created with (fingerprints.model.ID_RE: lower case, 48 at most) all pass.
_VENUE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", re.ASCII)


def is_venue_id(venue: object) -> bool:
    """Whether `venue` is well formed as a venue id (not whether such a venue exists)."""
    return isinstance(venue, str) and _VENUE_ID.fullmatch(venue) is not None
