"""Serving owners' images, and drawing them on shopper pages.

    GET /media/<venue>/<id>/<width>.<webp|jpg>   a rendition; the id names the content (a new upload is a
                                                 new id), so it is cached for a year, immutable

Templates draw an image with `media_picture(kind, zone, ref, alt, sizes)`: a <picture> with a WebP srcset
and a JPEG fallback, lazy-loaded, its size reserved (width/height) so nothing jumps; nothing at all when the
owner has uploaded none or the store cannot be read (an image never breaks a page). A page that lists places (a
menu's dishes, a day's films) calls `media_prefetch(kind, items, ref, zone)` first: their images in one round trip,
which each `media_picture` of the request then takes instead of reading its own."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import redis
from flask import Blueprint, Flask, Response, abort, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from portal.media.store import MIME, RENDITION, MediaStore, Picture, text_ref
from portal.services import request_memo, services

log = logging.getLogger(__name__)

bp = Blueprint("media", __name__, url_prefix="/media")

CACHE_FOREVER = "public, max-age=31536000, immutable"
THUMB_SIZES = "(max-width: 600px) 30vw, 160px"


# No zone's images may take more than this part of the venue's budget (MEDIA_BUDGET_MB): one shop filling
# the space must not refuse every other shop's images. A quarter, not budget / number of zones: most zones
# upload few or no images, while a cinema's posters or a food court's dishes need many (of 200 MB, 50 MB a
# zone: well over a hundred photos); it still takes four zones to fill a venue.
ZONE_SHARE = 4


def media_store() -> MediaStore:
    svc = services()
    budget = svc.settings.media_budget_bytes
    return MediaStore(svc.db, budget, zone_budget_bytes=budget // ZONE_SHARE)


@bp.get("/<venue>/<image_id>/<name>")
def rendition(venue: str, image_id: str, name: str):
    match = RENDITION.match(name)
    data = media_store().rendition(venue, image_id, name) if match else None
    if data is None:
        abort(404)
    response = Response(data, mimetype=MIME[match.group(2)])
    response.headers["Cache-Control"] = CACHE_FOREVER
    response.set_etag(f"{image_id}-{name}")
    return response.make_conditional(request)


def rendition_url(picture: Picture, width: int, fmt: str) -> str:
    return url_for("media.rendition", venue=picture.venue, image_id=picture.id, name=f"{width}.{fmt}")


def picture_html(picture: Picture, alt: str, sizes: str = THUMB_SIZES, css_class: str = "media") -> Markup:
    srcset = ", ".join(f"{rendition_url(picture, w, 'webp')} {w}w" for w in picture.widths)
    height = round(picture.height * picture.fallback / picture.width)
    return Markup(
        '<picture class="{cls}"><source type="image/webp" srcset="{srcset}" sizes="{sizes}">'
        '<img src="{src}" alt="{alt}" width="{w}" height="{h}" loading="lazy" decoding="async"></picture>'
    ).format(cls=css_class, srcset=srcset, sizes=sizes, src=rendition_url(picture, picture.fallback, "jpg"),
             alt=str(alt), w=picture.fallback, h=height)


def media_picture(kind: str, zone: str | None, ref: str | None, alt: str = "", sizes: str = THUMB_SIZES,
                  css_class: str = "media") -> Markup:
    """The owner's image for (zone, kind, ref) on a shopper page; empty when there is none."""
    venue = (request.view_args or {}).get("venue")
    if not venue or not zone or not ref:
        return Markup("")
    prefetched = _prefetched()
    try:
        if (zone, kind, ref) in prefetched:
            picture = prefetched[(zone, kind, ref)]
        else:
            picture = media_store().get(venue, zone, kind, ref)
    except redis.RedisError:
        log.warning("media: store unavailable, page drawn without images")
        return Markup("")
    return picture_html(picture, alt, sizes, css_class) if picture else Markup("")


def media_prefetch(kind: str, items: Iterable[Any], ref: str = "id", zone: str | None = None) -> str:
    """Read the images of the listed places in one round trip for this request's `media_picture`s: each item's
    `ref` attribute names its place, in `zone` (else the item's own `zone`). Returns "" (a template prints it where it
    calls it); places read before in the request are not read again; a store fault draws the places without images.
    """
    venue, prefetched = (request.view_args or {}).get("venue"), _prefetched()
    places = [(zone or _field(item, "zone"), kind, _field(item, ref)) for item in items]
    places = [place for place in places if place[0] and place[2] and place not in prefetched]
    if venue and places:
        try:
            prefetched.update(media_store().get_many(venue, places))
        except redis.RedisError:
            log.warning("media: store unavailable, page drawn without images")
            prefetched.update(dict.fromkeys(places))  # drawn without, not read again one by one
    return ""


def _field(item: Any, name: str) -> Any:
    """An item's field as a template reads it (`item.id`): an attribute, or a mapping's key (a menu's dishes)."""
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


def _prefetched() -> dict[tuple[str, str, str], Picture | None]:
    """The pictures read ahead in this request (its callers draw a request's page: outside one, nothing is kept)."""
    memo = request_memo("media")
    return {} if memo is None else memo


def unsent_text() -> str:
    """What an image form says when its upload got no answer (static/media-upload.js): the connection failed, or
    the file was so far over the limit that the server closed the connection before reading it."""
    return _("Not sent: the connection failed, or the file is over %(mb)s MB. Try again.",
             mb=services().settings.media_max_upload_bytes // 2**20)


def init_media(flask_app: Flask) -> None:
    flask_app.register_blueprint(bp)
    flask_app.jinja_env.globals.update(media_picture=media_picture, media_prefetch=media_prefetch, media_ref=text_ref,
                                       media_unsent_text=unsent_text)
