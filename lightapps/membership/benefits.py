"""Membership's side of three platform capabilities (portal/apps/capabilities.py): "points" (the balance, a
grant such as a game's prize, to the shopper's card or to the card whose rotating member code a desk typed,
points redeemed for something another app sells, e.g. a parking fee, and given back when it did not happen, a
stable key for the member), "agreements" (the member's payment agreement) and "members" (which member a
shopper is, for the host's privacy centre). Every change is one Lua script on the member's keys (the venue's
slot)."""

from __future__ import annotations

import json
import time
from dataclasses import replace

from core.security import keyed_hash
from lightapps.membership.codes import BadMemberCode, parse_member_code
from lightapps.membership.store import Caller, MemberKeys, MemberStore, event_kind
from portal.apps import registry
from portal.apps.capabilities import Granted, PaymentAgreement
from portal.apps.views import zones_running

REDEMPTION_KEEP_S = 400 * 86400
MEMBER_KEY_PURPOSE = b"mallportal member key for other apps"  # PHONE_KEY's sub-key for member_key


class BenefitKeys(MemberKeys):
    def redemption(self, ref: str) -> str:
        """HASH member, points, state redeemed | restored, what, kind."""
        return self.key("member", "redeem", ref)


# KEYS member, ledger, redemption. ARGV points, ref, what, now, member id, keep s, kind.
# A ref already used answers DUP (taken before: success) only while it stands for this very redemption (the same
# member and points, still redeemed); a ref given back, another member's or for other points is USED: it takes
# nothing and pays for nothing (a caller reusing a ref would otherwise be paid for points never taken).
REDEEM_LUA = """
local done = redis.call('HMGET', KEYS[3], 'member', 'points', 'state')
if done[1] then
  if done[1] == ARGV[5] and tonumber(done[2]) == tonumber(ARGV[1]) and done[3] == 'redeemed' then return 'DUP' end
  return 'USED'
end
if not redis.call('HGET', KEYS[1], 'secret') then return 'NO_MEMBER' end
local balance = tonumber(redis.call('HGET', KEYS[1], 'points') or '0')
local pts = tonumber(ARGV[1])
if pts <= 0 or pts > balance then return 'SHORT' end
balance = redis.call('HINCRBY', KEYS[1], 'points', -pts)
redis.call('HSET', KEYS[3], 'member', ARGV[5], 'points', pts, 'state', 'redeemed', 'what', ARGV[3], 'kind', ARGV[7])
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[6]))
redis.call('LPUSH', KEYS[2], cjson.encode({type='redeem', kind=ARGV[7], note=ARGV[3], ref=ARGV[2], points=-pts,
           balance=balance, at=tonumber(ARGV[4])}))
return 'OK'
"""

# KEYS member, ledger, redemption. ARGV ref, now, member id.
RESTORE_LUA = """
local r = redis.call('HMGET', KEYS[3], 'member', 'points', 'state', 'what', 'kind')
if not r[1] or r[1] ~= ARGV[3] or r[3] ~= 'redeemed' then return 'NONE' end
if not redis.call('HGET', KEYS[1], 'secret') then return 'NONE' end  -- erased: no card to give them back to
redis.call('HSET', KEYS[3], 'state', 'restored')
local balance = redis.call('HINCRBY', KEYS[1], 'points', tonumber(r[2]))
redis.call('LPUSH', KEYS[2], cjson.encode({type='restore', kind=r[5] or '', note=r[4], ref=ARGV[1],
           points=tonumber(r[2]), balance=balance, at=tonumber(ARGV[2])}))
return 'OK'
"""


class MemberBenefitStore:
    """The platform's Points, Agreements and Members over the membership store."""

    def __init__(self, members: MemberStore) -> None:
        self.members = members
        self._redeem = members.db.register_script(REDEEM_LUA)
        self._restore = members.db.register_script(RESTORE_LUA)

    def _member_id(self, venue: str, client: str) -> str | None:
        raw = self.members.db.get(MemberKeys(venue).client(client))
        return raw.decode() if raw else None

    def balance(self, venue: str, client: str) -> int | None:
        member = self.members.for_client(venue, client)
        return None if member is None else member.points

    def member_key(self, venue: str, client: str) -> str | None:
        member = self.members.for_client(venue, client)
        return None if member is None else self._key(venue, member.id)

    def member_of(self, venue: str, client: str) -> str | None:
        """The "members" capability: her member number, as her membership events (views.py) carry it."""
        member = self.members.for_client(venue, client)
        return None if member is None else member.id

    def _key(self, venue: str, member_id: str) -> str:
        return keyed_hash(self.members.phone_key, MEMBER_KEY_PURPOSE, f"{venue}:{member_id}", length=32)

    def signup_endpoint(self, venue: str) -> str | None:
        app = registry.get("membership")  # this package's declaration, which imports this module
        return "membership.card" if app is not None and zones_running(app, venue) else None

    def grant(self, venue: str, client: str, amount: int, reference: str, source: str) -> Granted:
        return self.members.grant_points(venue, client, int(amount), reference, source)

    def grant_to_code(self, venue: str, member_code: str, amount: int, reference: str, source: str,
                      caller: str, winner: str) -> Granted:
        """The code judged by MemberStore.identify, as the till's (console.py) on the account's budget, only for
        the `winner`'s number: another member's code is WRONG before it is judged (the desk learns nothing of
        whether it was right, nor whether the number is in use)."""
        try:
            member_id, code = parse_member_code(member_code, venue)
        except BadMemberCode:
            return Granted("BAD_CODE")
        if not winner or self._key(venue, member_id) != winner:
            return Granted("WRONG")
        found = self.members.identify(venue, member_id, code, Caller("account", caller))
        if found.member is None:
            return Granted(found.status, retry_after_s=found.retry_after_s)
        granted = self.members.grant_to_member(venue, found.member.id, int(amount), reference, source)
        return replace(granted, member=self.members.audit_ref(found.member.id))

    def redeem(self, venue: str, client: str, points: int, ref: str, what: str) -> bool:
        member_id = self._member_id(venue, client)
        if member_id is None:
            return False
        keys = BenefitKeys(venue)
        result = self._redeem(keys=[keys.member(member_id), keys.ledger(member_id), keys.redemption(ref)],
                              args=[int(points), ref, what[:60], time.time(), member_id, REDEMPTION_KEEP_S,
                                    event_kind(ref)])
        return (result.decode() if isinstance(result, bytes) else result) in ("OK", "DUP")

    def restore(self, venue: str, client: str, ref: str) -> bool:
        member_id = self._member_id(venue, client)
        if member_id is None:
            return False
        keys = BenefitKeys(venue)
        result = self._restore(keys=[keys.member(member_id), keys.ledger(member_id), keys.redemption(ref)],
                               args=[ref, time.time(), member_id])
        return (result.decode() if isinstance(result, bytes) else result) == "OK"

    def may_sign(self, venue: str, client: str) -> bool:
        return self._member_id(venue, client) is not None

    def agreement(self, venue: str, client: str) -> PaymentAgreement | None:
        member_id = self._member_id(venue, client)
        raw = self.members.db.hget(MemberKeys(venue).member(member_id), "agreement") if member_id else None
        if not raw:
            return None
        data = json.loads(raw)
        return PaymentAgreement(data["provider"], data["agreement_no"], float(data["signed_at"]))

    def save_agreement(self, venue: str, client: str, agreement: PaymentAgreement) -> bool:
        member_id = self._member_id(venue, client)
        if member_id is None:
            return False
        value = json.dumps({"provider": agreement.provider, "agreement_no": agreement.agreement_no,
                            "signed_at": agreement.signed_at})
        self.members.db.hset(MemberKeys(venue).member(member_id), "agreement", value)
        return True


def benefits(members: MemberStore) -> MemberBenefitStore:
    """The factory the app's declaration names for its capabilities (built once per process, for each)."""
    return MemberBenefitStore(members)
