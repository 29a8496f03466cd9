"""The POS API of the membership card: a bearer token of the venue with the `membership` scope (a report
source's token, which has only `ingest`, gets 403).

    POST /api/v1/venues/<venue>/membership/purchases     Idempotency-Key: <key> (optional)
    {"receipt_id": "R-2025-0001",          # each (store, receipt_id) counts once, in any case ("r-2025-0001" is
                                           #   the same receipt); or send only Idempotency-Key (it
                                           #   stands for receipt_id, its case folded the same way)
     "store": "pixel",                     # optional, default "mall": receipt ids are unique per store. The
                                           #   id of one of the venue's zones or shops (or "mall"), in any case
                                           #   ("Pixel" is "pixel", answered as "pixel"); any other store is 422
                                           #   {"field": "store"} (a mistyped store would start receipts of its own).
                                           #   Receipts an earlier release kept under "Pixel" as sent are moved to
                                           #   "pixel" first (MemberStore.fold_receipt_stores)
     "member_code": "100001-123456",       # the rotating code (short code or QR payload) scanned at the till
     "member": "100001",                   #   ...or the member number instead (offline POS batches)
     "amount": "128.50"}                   # yuan > 0 ("¥1,280.00" too; a dot for decimals, at most 2); 1 point
                                           #   per whole unit
    -> 201 {"receipt_id", "store", "member", "points_earned", "points", "lifetime_points", "tier", "duplicate": false}
    -> 200 the same body with "duplicate": true when that receipt was already counted (nothing changes)
    -> 409 {"error", "field": "receipt_id"} the receipt was posted before with another member or amount
    -> 404 {"error", "field"} no such member (never was, or erased their membership)
    -> 4xx {"error", "field"} for bad input; nothing is stored

    POST /api/v1/venues/<venue>/membership/refunds       Idempotency-Key: <key> (needed with "amount")
    {"receipt_id": "R-2025-0001", "store": "pixel",
     "amount": "30.00"}                    # optional: refund this part only (a returned item); absent: all of it
    -> 200 {"receipt_id", "store", "member", "points_reversed", "points", "tier", "state", "duplicate": bool}
       (all of a receipt is reversed once: repeats answer the same with "duplicate": true; a part once per
       Idempotency-Key. "points_reversed" is what THAT refund took back, in a repeat too: ¥100 refunded ¥30 then
       all of it answers 30, then 70, and the refund of all of it sent again 70 (0 when parts had left nothing);
       for a receipt an earlier release refunded, the newest reversal of it in the member's last 100 ledger
       entries, else all the receipt had reversed. What remains paid keeps its own points, 1 per whole unit, so
       parts refunded one by one take back what refunding it all would; "state": "part_refunded" until nothing
       remains, then "refunded"); 422 {"field": "store"} for a store id that is not 1 to 48 letters, digits, _ or -
       (any such store is looked up, folded: a receipt may be under a store an earlier release took, or a shop that
       has since left the map);
       404 unknown receipt; 400 a part without an Idempotency-Key (a retry would be another refund);
       409 {"error", "field": "amount"} more than remains to refund (the error says how much remains);
       409 {"error", "field": "Idempotency-Key"} the key was used before for another receipt or amount;
       409 {"error", "field": "receipt_id"} its member has erased their membership (nothing to take back)

    POST /api/v1/venues/<venue>/membership/identify      {"member_code": "..."}
    -> 200 {"member", "tier", "points"}; 404 no such member; 422 {"error": "member_code has expired...",
       "field": "member_code"} a code the member was shown in the last hour (ask her to refresh the card; it
       counts for nothing); 422 {"error": "member_code is wrong...", "field": "member_code"} any other code;
       429 (Retry-After) this token's wrong codes are spent: 3 for one member number stop it for that number,
       wrong codes for 15 numbers for any other number (per token label, 10 minutes; a right or expired code is
       free), or wrong codes from several tokens and consoles brake this member for 10 minutes (one caller's
       never do)

    POST /api/v1/venues/<venue>/membership/wechat-links  {"member_code": "...", "openid": "o..."}
    The mall's mini-program, once the member authorised WeChat Pay's 智慧商圈 points service there: the member's
    WeChat openid (in the mall's app) is linked to the member whose rotating code they show (the code proves it is
    theirs), so their payments anywhere in the mall earn points (lightapps/membership/payment.py).
    -> 200 {"member", "linked": true}; 404 no such member; 422 bad openid, wrong or stale code; 429 as above"""

from __future__ import annotations

import re

from flask import Blueprint, jsonify, request

from lightapps.membership.codes import BadMemberCode, parse_member_code
from lightapps.membership.store import (
    MEMBER_ID,
    Caller,
    FieldError,
    PostResult,
    parse_amount,
    parse_receipt_id,
    parse_store_id,
    tier_for,
)
from lightapps.membership.views import store as _store  # the app's store, one per process
from portal.api import api_scope, json_body, require_venue_source
from portal.apps.views import venue_or_404
from portal.errors import ROOT, ApiError

api_bp = Blueprint("membership_api", __name__, url_prefix="/api/v1/venues/<venue>/membership")
SCOPE = api_scope("membership")  # tokens for this API: issue-token ... --scope membership
IDEM_MAX = 128
OPENID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
# What a POS shows or matches on: the member's card is open but not fresh (her page did not update), not a guess
STALE_ERROR = "member_code has expired: ask the member to refresh the card (codes change every 30 seconds)"


def _object() -> dict:
    payload = json_body()
    if not isinstance(payload, dict):
        raise ApiError(422, "body must be a JSON object", ROOT)
    return payload


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return None
    if len(key) > IDEM_MAX or not key.isascii() or not key.isprintable():
        raise ApiError(400, f"Idempotency-Key must be at most {IDEM_MAX} printable ASCII characters",
                       "Idempotency-Key")
    return key


def _receipt(venue: str, payload: dict, idem: str | None, *, purchase: bool) -> tuple[str, str]:
    """(receipt id, store). An Idempotency-Key sent alone stands for the receipt id: its case folds like one sent
    (`fold_case`), so "R1" sent either way is one receipt; the key's own record keeps its case. The store is folded
    by the same rule (parse_store_id); a purchase's must be one of the venue's zones or shops, a refund's not: its
    receipt may be one of the last 400 days, under a store an earlier release took or a shop since gone from the map
    (its points must still come back)."""
    venue_map = venue_or_404(venue)
    stores = [zone.id for zone in venue_map.zones] + [shop.id for shop in venue_map.shops] if purchase else None
    try:
        raw = payload.get("receipt_id")
        if (raw is None or raw == "") and idem:
            return parse_receipt_id(idem, "Idempotency-Key"), parse_store_id(payload.get("store"), stores)
        return parse_receipt_id(raw), parse_store_id(payload.get("store"), stores)
    except FieldError as exc:
        raise ApiError(422, exc.message, exc.field) from None


def _identify(venue: str, raw_code, source: str, *, receipt_known: bool = False) -> str:
    """The member id a rotating code stands for (verified), else an ApiError naming member_code. `source`: the
    label of the calling token, for which a wrong code counts."""
    if raw_code is not None and not isinstance(raw_code, str):
        raise ApiError(422, "member_code must be a string", "member_code")
    try:
        member_id, code = parse_member_code(raw_code, venue)
    except BadMemberCode as exc:
        raise ApiError(422, str(exc), "member_code") from None
    if receipt_known:
        return member_id  # a retry of a counted receipt: the script answers DUPLICATE or CONFLICT
    status, _member, wait = _store().identify(venue, member_id, code, Caller("token", source))
    if status == "SPENT":  # this token's wrong codes are spent: nothing was judged
        raise ApiError(429, f"too many wrong member codes from this token; try again in {wait} seconds",
                       "member_code", headers=[("Retry-After", str(wait))])
    if status == "SPENT_MEMBER":
        raise ApiError(429, f"too many wrong codes for this member number from this token; try again in {wait} "
                            "seconds", "member_code", headers=[("Retry-After", str(wait))])
    if status == "NO_MEMBER":
        raise ApiError(404, "no member has this member number", "member_code")
    if status == "LOCKED":
        raise ApiError(429, "too many wrong codes for this member; try again in 10 minutes", "member_code",
                       headers=[("Retry-After", str(wait))])
    if status == "STALE":  # an old code of this member: nothing counted
        raise ApiError(422, STALE_ERROR, "member_code")
    if status == "WRONG":
        raise ApiError(422, "member_code is wrong (or more than an hour old)", "member_code")
    return member_id


def _body(result: PostResult, receipt_id: str, store: str, points_field: str) -> dict:
    return {
        "receipt_id": receipt_id, "store": store, "member": result.member_id, points_field: result.points,
        "points": result.balance, "lifetime_points": result.lifetime, "tier": tier_for(result.lifetime)[0],
        "state": result.state, "duplicate": result.status == "DUPLICATE",
    }


@api_bp.post("/purchases")
def purchases(venue: str):
    source = require_venue_source(venue, SCOPE)
    idem = _idempotency_key()
    payload = _object()
    receipt_id, store_id = _receipt(venue, payload, idem, purchase=True)
    try:
        cents = parse_amount(payload.get("amount"))
    except FieldError as exc:
        raise ApiError(422, exc.message, exc.field) from None
    members = _store()
    has_code = payload.get("member_code") not in (None, "")
    has_number = payload.get("member") not in (None, "")
    if has_code == has_number:
        raise ApiError(422, "send exactly one of member_code (scanned at the till) or member (member number)",
                       "member_code")
    if has_code:
        known = members.receipt(venue, store_id, receipt_id, fold_case=True) is not None
        member_id = _identify(venue, payload["member_code"], source, receipt_known=known)
    else:
        raw = payload["member"]
        member_id = str(raw) if isinstance(raw, int | str) and not isinstance(raw, bool) else ""
        if not MEMBER_ID.match(member_id):
            raise ApiError(422, "member must be a member number like 100001", "member")
    result = members.post_purchase(venue, member_id, receipt_id, store_id, cents, idempotency_key=idem,
                                   fold_case=True)
    if result.status == "NO_MEMBER":
        raise ApiError(404, "no member has this member number", "member" if has_number else "member_code")
    if result.status == "CONFLICT":
        raise ApiError(409, "this receipt was already posted with another member or amount; it counts once",
                       "receipt_id")
    if result.status == "IDEM_CONFLICT":
        raise ApiError(409, "this Idempotency-Key was already used for another receipt", "Idempotency-Key")
    return jsonify(_body(result, receipt_id, store_id, "points_earned")), 201 if result.status == "OK" else 200


@api_bp.post("/refunds")
def refunds(venue: str):
    require_venue_source(venue, SCOPE)
    idem = _idempotency_key()
    payload = _object()
    receipt_id, store_id = _receipt(venue, payload, None, purchase=False)
    cents = _part_to_refund(payload, idem)
    result = _store().refund(venue, store_id, receipt_id, idempotency_key=idem, cents=cents, fold_case=True)
    if result.status == "TOO_MUCH":
        raise ApiError(409, f"more than remains to refund on this receipt ({result.remaining_cents / 100:.2f})",
                       "amount")
    if result.status == "NO_RECEIPT":
        raise ApiError(404, f"no purchase with receipt_id {receipt_id!r} at store {store_id!r}", "receipt_id")
    if result.status == "IDEM_CONFLICT":
        raise ApiError(409, "this Idempotency-Key was already used for another refund", "Idempotency-Key")
    if result.status == "NO_MEMBER":
        raise ApiError(409, "the member of this receipt erased their membership; there are no points to take back",
                       "receipt_id")
    return jsonify(_body(result, receipt_id, store_id, "points_reversed")), 200


def _part_to_refund(payload: dict, idem: str | None) -> int | None:
    """The fen of a part refund ("amount"), None for all of the receipt. A part needs an Idempotency-Key: each
    part is a refund of its own, so without one a retried request would take the points back twice."""
    if payload.get("amount") in (None, ""):
        return None
    try:
        cents = parse_amount(payload.get("amount"))
    except FieldError as exc:
        raise ApiError(422, exc.message, exc.field) from None
    if idem is None:
        raise ApiError(400, "a refund of part of a receipt needs an Idempotency-Key header (one per refund), so a "
                            "retried request is not taken as another refund", "Idempotency-Key")
    return cents


@api_bp.post("/identify")
def identify(venue: str):
    source = require_venue_source(venue, SCOPE)
    payload = _object()
    member_id = _identify(venue, payload.get("member_code"), source)
    member = _store().get(venue, member_id)
    return jsonify({"member": member.id, "tier": member.tier[0], "points": member.points,
                    "lifetime_points": member.lifetime})


@api_bp.post("/wechat-links")
def wechat_links(venue: str):
    source = require_venue_source(venue, SCOPE)
    payload = _object()
    openid = payload.get("openid")
    if not isinstance(openid, str) or not OPENID.match(openid):
        raise ApiError(422, "openid must be the member's WeChat openid (6 to 64 letters, digits, _ -)",
                       "openid")
    member_id = _identify(venue, payload.get("member_code"), source)
    _store().link_wechat(venue, member_id, openid)
    return jsonify({"member": member_id, "linked": True})
