"""May a light app use this shopper's position? Location is sensitive personal information (PIPL): an app uses
where the shopper stands ("from me" routes, "you are here", the way to her car from where she is) only on the phone
the gateway vouched for (`Shopper.own_phone`), and not once she declined location-based services in the privacy
notice (portal/consent.py: her own answer, or the answer given for her phone on another of its tokens). Before she
answers, nothing changes (the README's limit: the first landing comes before any page can ask).

    phone = position_phone(shopper)        # instead of shopper.own_phone: None = use no position
    if location_declined(shopper): ...     # say why, with a link to privacy_choices_url(venue)

Both read the store at most once per request and shopper (a new shopper with no token: no read); a store error
raises, as any store read of a page does (the page's store-fault answer)."""

from __future__ import annotations

from flask import g, request

from portal.services import services
from portal.shopper import Shopper, shopper_url


def location_declined(shopper: Shopper | None) -> bool:
    """This shopper declined location-based services: her last answer to the privacy notice said no, or the
    shopper of her verified phone said no for it. False before any answer, and for no shopper."""
    if shopper is None or g.get("new_shopper") is shopper:  # a shopper made for this request has answered nothing
        return False
    memo = g.setdefault("location_declined", {})
    key = (shopper.venue, shopper.client, shopper.own_phone)
    if key not in memo:
        memo[key] = services().consent.declines_location(shopper.venue, shopper.client, shopper.own_phone)
    return memo[key]


def position_phone(shopper: Shopper | None) -> str | None:
    """The phone whose position a light app may use for this shopper: her own verified phone
    (`Shopper.own_phone`), unless she declined location-based services; None: use no position."""
    if shopper is None or shopper.own_phone is None or location_declined(shopper):
        return None
    return shopper.own_phone


def privacy_choices_url(venue: str) -> str:
    """The privacy choices (the notice's two boxes) of `venue`, for this shopper, coming back to this page."""
    back = {"next": request.path} if request.method == "GET" else {}
    return shopper_url("hub.privacy", venue=venue, **back) + "#choices"  # `c` and the chosen language kept
