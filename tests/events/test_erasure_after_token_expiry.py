"""An erasure from the browser the shopper kept reaches the phone her sign-in sheet was vouched for also after the
sheet's token expired (30 days unused, SHOPPER_TOKEN_TTL_S) while the phone's events are still kept (90 days
before they are anonymised, by default): her phone set (ShopperKeys.phones_of) lives as long as any token of
hers. A token's expiry is its record's TTL running out: the tests delete the record, as the TTL would."""

from __future__ import annotations

import time

from portal.events.privacy import RETENTION
from portal.ingest.store import RssiKeys
from portal.shopper import Shopper, ShopperKeys, ShopperTokenStore, new_shopper, token_store

VENUE = "demo"


def records(db) -> set[bytes]:
    return set(db.scan_iter(f"*{{{VENUE}}}:shopper:token:*"))


def mint(tokens: ShopperTokenStore, db, client: str, phone: str | None = None,
         verified: bool = False) -> tuple[str, bytes]:
    """A token of `client` (on `phone`), and its record's key."""
    before = records(db)
    token = tokens.mint(Shopper(VENUE, client, phone=phone, phone_verified=verified))
    (record,) = records(db) - before
    return token, record


def test_the_phone_events_outlive_a_token_unused_for_its_lifetime(svc):
    """The gap the phone set closes: a phone's events are kept (named) longer than a token lives unused."""
    assert RETENTION["events_anonymise"][1] * 86400 > svc.settings.shopper_token_ttl_s


def test_an_erasure_after_the_sheets_token_expired_still_removes_the_phones_data(app, client, svc, demo):
    tokens = token_store(app)
    _sheet, sheet_record = mint(tokens, svc.db, "s-late", "dev-late", verified=True)  # the sign-in sheet's
    browser, _ = mint(tokens, svc.db, "s-late")  # the real browser's, after the keep link: no phone
    t = time.time() - 3600
    for phone in ("dev-late", "dev-other"):
        svc.presence.record(VENUE, phone, "kopi", t)
    svc.events.emit(VENUE, "landing", at=t + 1, device="dev-late", shopper="s-other-sheet", zone="kopi")
    svc.db.zadd(RssiKeys(VENUE).readings("dev-late"), {"ap1:-60": t})
    assert tokens.resolve(browser) is not None  # she keeps using the browser: her lists slide with it

    svc.db.delete(sheet_record)  # day 31: the sheet's token, unused for 30 days, has expired
    assert tokens.verified_phones(VENUE, "s-late") == {"dev-late"}
    assert client.post("/v/demo/my-data/erase", data={"confirm": "1", "c": browser}).status_code == 200
    assert {e.device for e in svc.events.read(VENUE)} == {"dev-other"}
    assert svc.presence.occupancy(VENUE, t + 10) == {"kopi": 1}
    assert not svc.db.exists(RssiKeys(VENUE).readings("dev-late"))
    assert not svc.db.exists(ShopperKeys(VENUE).phones_of("s-late"))  # the link goes with the tokens
    assert tokens.resolve(browser) is None


def test_her_phone_set_outlives_every_token_of_hers(app, svc, demo):
    """The invariant: whenever a token names a vouched phone (minted, a handout opened, or used later) the
    phone is on her set and the set's TTL is at least every token record's and her token list's; a phone
    only claimed (unverified) is never on it."""
    tokens, keys, db = token_store(app), ShopperKeys(VENUE), svc.db
    now = time.time()
    tokens.clock = lambda: now
    sheet = new_shopper(VENUE, "dev-sheet", phone_verified=True)
    handout = tokens.mint(sheet, handout=True)
    assert tokens.resolve(handout) is not None  # opened: the record written, the phone on her set
    _claimed, _ = mint(tokens, db, sheet.client, "dev-claimed", verified=False)
    browser, _ = mint(tokens, db, sheet.client)
    phones = keys.phones_of(sheet.client)
    assert {p.decode() for p in db.smembers(phones)} == {"dev-sheet"}

    def outlives_her_tokens() -> None:
        lives = [db.ttl(r) for r in records(db)] + [db.ttl(keys.tokens_of(sheet.client))]
        assert db.ttl(phones) >= max(lives) > 0

    outlives_her_tokens()
    db.expire(phones, 60)  # as if a while had passed since the phone was vouched for
    assert tokens.resolve(browser) is not None  # a use of any token slides the set with her list
    outlives_her_tokens()
    db.expire(phones, 60)
    assert tokens.resolve(handout) is not None  # the handout opened again, through its record
    outlives_her_tokens()
    assert tokens.revoke(VENUE, sheet.client) == 3 and not db.exists(phones)


def test_a_shopper_with_no_vouched_phone_gets_no_phone_set(app, svc, demo):
    tokens = token_store(app)
    token, _ = mint(tokens, svc.db, "s-nophone", "dev-claimed", verified=False)
    assert tokens.resolve(token) is not None
    assert not svc.db.exists(ShopperKeys(VENUE).phones_of("s-nophone"))
    assert tokens.verified_phones(VENUE, "s-nophone") == set()


def test_the_export_shows_a_phones_trail_only_to_a_token_vouched_for_that_phone(app, client, svc, demo):
    """Access is narrower than erasure: a token naming no phone (a texted link she may have forwarded, the kept
    browser's) holds her shopper id, not proof of her phone, so its export shows no phone's trail even though its
    erasure removes it; the sign-in page's token, vouched for the phone, shows it."""
    tokens = token_store(app)
    sheet, _ = mint(tokens, svc.db, "s-seen", "dev-seen", verified=True)
    link, _ = mint(tokens, svc.db, "s-seen")  # a texted link's token, or the kept browser's: no phone
    t = time.time() - 3600
    svc.events.emit(VENUE, "landing", at=t, device="dev-seen", shopper="s-other-sheet", zone="kopi")
    svc.events.emit(VENUE, "landing", at=t + 1, device="dev-stranger", shopper="s-stranger", zone="jade")
    assert tokens.verified_phones(VENUE, "s-seen") == {"dev-seen"}  # the erasure's reach
    for token, zones in ((link, []), (sheet, ["kopi"])):
        exported = client.get("/v/demo/my-data/export.json", query_string={"c": token})
        assert exported.status_code == 200
        assert [e["zone"] for e in exported.get_json()["events"]] == zones
