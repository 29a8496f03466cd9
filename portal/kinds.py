"""The venue map's kind codes in the page's language: zone kinds (fingerprints.edits.ZONE_KINDS, the mall
generator's stall/kiosk/anchor/lobby, IMDF imports' kinds) and walkway link kinds (fingerprints.edits.EDGE_KINDS).
One map each, shared by the owner console and the floor editor (templates/operator/floor.html): template globals
registered with the map wiring (portal/maps/__init__.py). A kind not listed is shown as its code."""

from __future__ import annotations

from flask_babel import gettext as _

from core.errors import N_

# Marked for the catalog here, translated when shown (the page's language is known only then).
ZONE_KIND_WORDS = {
    "atrium": N_("atrium"), "shop": N_("shop"), "food": N_("food court"), "restaurant": N_("restaurant"),
    "cinema": N_("cinema"), "garage": N_("garage"), "service": N_("service area"), "corridor": N_("corridor"),
    "stall": N_("food stall"), "kiosk": N_("kiosk"), "anchor": N_("anchor store"), "lobby": N_("lift lobby"),
    "walkway": N_("walkway"), "parking": N_("car park"), "theater": N_("theatre"), "office": N_("office"),
    "restroom": N_("restroom"),
}
WALK_KIND_WORDS = {"walk": N_("level walkway"), "escalator": N_("escalator"), "elevator": N_("lift"),
                   "stairs": N_("stairs"), "ramp": N_("ramp")}


def zone_kind_label(kind: str) -> str:
    """A zone kind for the page; an unknown one as it is."""
    word = ZONE_KIND_WORDS.get(kind)
    return _(word) if word else kind


def walk_kind_label(kind: str) -> str:
    """A walkway link kind for the page; an unknown one as it is."""
    word = WALK_KIND_WORDS.get(kind)
    return _(word) if word else kind
