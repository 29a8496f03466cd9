"""Where a captive sign-in sheet is offered the keep link (templates/hub/_keep_offer.html): by a thing of hers on
the page that shows it (a queue number, a sign-up, a ticket, a coupon), and else on the Continue footer of every
shopper page (templates/_continue.html) while she holds anything.

Android's sheet closes by itself once the network works, right after "Continue to the internet" (the page after
it may never show): whatever she holds only in the sheet goes with it, so the offer comes before she taps. One
offer a page: a second would repeat the first, and ask the store for a code again."""

from __future__ import annotations

from flask import Flask, g, request

from portal.apps import registry
from portal.apps.mine import holds_anything
from portal.shopper import current_shopper


def keep_offered() -> bool:
    """This page shows the keep offer already: an include did, or it is Me, whose keep section is one."""
    return bool(g.get("keep_offered")) or request.endpoint == "hub.me"


def offer_keep_here() -> bool:
    """True for the page's first keep offer, which is shown; False for any later one."""
    if keep_offered():
        return False
    g.keep_offered = True
    return True


def shopper_holds_anything() -> bool:
    """The page's shopper holds something an app lists on Me (not a way in such as "Become a member"); a
    shopper new in this request holds nothing, and no store is asked for her."""
    shopper = current_shopper()
    if shopper is None or g.get("new_shopper") is shopper:
        return False
    return holds_anything(registry.all_apps(), shopper.venue, shopper)


def init_keep_offer(app: Flask) -> None:
    app.jinja_env.globals.update(keep_offered=keep_offered, offer_keep_here=offer_keep_here,
                                 shopper_holds_anything=shopper_holds_anything)
