"""The rules of a game, pure (no store, no Flask): what an owner may publish, how odds are written, the
voucher codes a prize is issued as.

Odds are integers in basis points (1/10,000): an owner types a percentage with up to two decimals
("2.5" = 250); the prizes' odds plus "no prize" make exactly 100%. Points are whole points, a coupon's face
value whole fen (shown ¥20.00). A prize's odds are fixed for the life of its game: when its stock runs out,
its share of the draws falls to "no prize" (the shoppers are told), nothing is moved to the other prizes."""

from __future__ import annotations

import json
import re
import secrets
import unicodedata
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from core.errors import N_, CatalogInputError
from portal.apps.bilingual import Localized, pick, read_catalog_pair
from portal.payments.money import AmountError, read_amount

ODDS_SCALE = 10_000  # basis points: 100% = 10,000
STYLES = ("draw", "scratch", "shake")
KINDS = ("coupon", "points")
MAX_PRIZES = 5
MAX_STOCK = 100_000
MAX_POINTS = 1_000_000
MAX_PER_SHOPPER = 1_000
MAX_PER_DAY = 100
MAX_SPAN_DAYS = 366
REDEEM_DAYS = 30  # a prize won may be collected up to this many days after the game's last day
TITLE_MAX = 80
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud and typed at a desk
CODE_LENGTH = 10
# Plain decimal numbers only, ASCII digits: Decimal and int would also take "1e1", "5_0", "NaN" or "٥٠".
PLAIN_WHOLE = re.compile(r"[0-9]{1,9}")
PLAIN_DECIMAL = re.compile(r"[0-9]{1,12}(\.[0-9]{1,12})?")
# Characters that show nothing: a title of only these is no title (a zero-width space, a Hangul filler).
INVISIBLE_CATEGORIES = ("Cc", "Cf", "Zs", "Zl", "Zp")
INVISIBLE_EXTRA = frozenset("\u115f\u1160\u3164\uffa0\u2800")

TITLE_REQUIRED = N_("A title is required, in Chinese or English (or both).")


class GameInputError(CatalogInputError):
    """A bad field in a new game: `field` names it (e.g. p2_odds). `template` is the catalog message
    (%(label)s stands for the field) and `params` its values: the console shows `_(template, label=<the field's
    label>, **params)`; `message` is the English text, naming the field as sent."""


@dataclass(frozen=True)
class Prize:
    id: str  # p1..p5, fixed for the game
    kind: str  # coupon | points
    title_en: str
    title_zh: str
    value: int  # points, or a coupon's face value in fen (0: no face value)
    odds: int  # basis points
    stock: int

    def title(self, zh: bool) -> Localized:
        return pick(self.title_zh, self.title_en, zh)


@dataclass(frozen=True)
class GameSpec:
    """What an owner publishes; once published only its texts change (`parse_texts`), any other change is a new
    game."""

    title_en: str
    title_zh: str
    style: str
    per_shopper: int  # draws per shopper over the whole game
    per_day: int  # draws per shopper per venue day
    total: int  # hard cap on prizes given out, whatever the stocks say
    last_day: date
    prizes: tuple[Prize, ...]

    @property
    def no_prize_odds(self) -> int:
        return ODDS_SCALE - sum(p.odds for p in self.prizes)

    def odds_field(self) -> str:
        """The odds as the draw script reads them: "p1=500;p2=1000" (in the prizes' order)."""
        return ";".join(f"{p.id}={p.odds}" for p in self.prizes)

    def prizes_json(self) -> str:
        return prizes_to_json(self.prizes)


def prizes_to_json(prizes: tuple[Prize, ...]) -> str:
    return json.dumps([asdict(p) for p in prizes], ensure_ascii=False)


def prizes_from_json(raw: str) -> tuple[Prize, ...]:
    return tuple(Prize(**item) for item in json.loads(raw))


def percent(odds: int) -> str:
    """250 -> "2.5%", 10000 -> "100%": how odds are shown, in both languages."""
    text = f"{Decimal(odds) / 100:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def parse_percent(raw: str, field: str) -> int:
    """"2.5" or "2.5%" -> 250 basis points; two decimals at most."""
    text = raw.strip().rstrip("%").strip()
    if not PLAIN_DECIMAL.fullmatch(text):
        raise GameInputError(field, N_("%(label)s must be a percentage like 5 or 2.5."))
    value = Decimal(text) * 100
    if value != value.to_integral_value():
        raise GameInputError(field, N_("%(label)s must be a percentage with at most two decimals."))
    odds = int(value)
    if not 1 <= odds <= ODDS_SCALE:
        raise GameInputError(field, N_("%(label)s must be between %(low)s and %(high)s."), low="0.01", high=100)
    return odds


def _is_invisible(ch: str) -> bool:
    return ch in INVISIBLE_EXTRA or unicodedata.category(ch) in INVISIBLE_CATEGORIES


def strip_invisible(text: str) -> str:
    """`text` without the invisible characters at its ends, so that a title of only a zero-width space is
    empty (those inside, such as an emoji's joiner, stay)."""
    start, end = 0, len(text)
    while start < end and _is_invisible(text[start]):
        start += 1
    while end > start and _is_invisible(text[end - 1]):
        end -= 1
    return text[start:end]


def _titles(form: Any, name: str, required: bool = True) -> dict[str, str]:
    """`{name_zh, name_en}` (`read_pair`: one language is enough) refusing with catalog messages."""
    pair = {f"{name}_{lang}": strip_invisible(str(form.get(f"{name}_{lang}") or "")) for lang in ("zh", "en")}
    return read_catalog_pair(pair, name, TITLE_MAX, GameInputError, TITLE_REQUIRED if required else "")


def _whole(form: Any, name: str, low: int, high: int, required: bool = True) -> int:
    raw = str(form.get(name) or "").strip()
    if not raw and not required:
        return 0
    if not PLAIN_WHOLE.fullmatch(raw):
        raise GameInputError(name, N_("%(label)s must be a whole number."))
    value = int(raw)
    if not low <= value <= high:
        raise GameInputError(name, N_("%(label)s must be between %(low)s and %(high)s."), low=low, high=high)
    return value


def _prize(form: Any, index: int) -> Prize | None:
    """Row `index` of the prize table; None when the row is left empty."""
    name = f"p{index}_"
    titles = _titles(form, name + "title", required=False)
    rest = [str(form.get(name + f) or "").strip() for f in ("value", "odds", "stock")]
    if not any(titles.values()):
        if any(rest):
            raise GameInputError(name + "title_zh", TITLE_REQUIRED)
        return None
    kind = str(form.get(name + "kind") or "")
    if kind not in KINDS:
        raise GameInputError(name + "kind", N_("%(label)s must be one of: %(choices)s."), choices=", ".join(KINDS))
    if kind == "points":
        value = _whole(form, name + "value", 1, MAX_POINTS)
    else:
        try:
            value = read_amount(rest[0] or "0")
        except AmountError as exc:  # the platform's amount rule and message (portal/payments/money.py)
            raise GameInputError(name + "value", exc.template, **exc.params) from None
    odds = parse_percent(rest[1], name + "odds") if rest[1] else None
    if odds is None:
        raise GameInputError(name + "odds", N_("%(label)s is required."))
    stock = _whole(form, name + "stock", 1, MAX_STOCK)
    return Prize(f"p{index}", kind, titles[name + "title_en"], titles[name + "title_zh"], value, odds, stock)


def _last_day(form: Any, today: date) -> date:
    raw = str(form.get("last_day") or "").strip()
    if not DATE.match(raw):
        raise GameInputError("last_day", N_("%(label)s must be a date (YYYY-MM-DD)."))
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise GameInputError("last_day", N_("%(label)s must be a date (YYYY-MM-DD).")) from None
    if day < today:
        raise GameInputError("last_day", N_("%(label)s is in the past."))
    if day > today + timedelta(days=MAX_SPAN_DAYS):
        raise GameInputError("last_day", N_("A game may run for at most %(n)s days."), n=MAX_SPAN_DAYS)
    return day


def parse_game(form: Any, today: date) -> GameSpec:
    """Owner form -> a game; GameInputError naming the first bad field. `today` is the venue's day."""
    titles = _titles(form, "title")
    style = str(form.get("style") or "draw")
    if style not in STYLES:
        raise GameInputError("style", N_("%(label)s must be one of: %(choices)s."), choices=", ".join(STYLES))
    per_shopper = _whole(form, "per_shopper", 1, MAX_PER_SHOPPER)
    per_day = _whole(form, "per_day", 1, MAX_PER_DAY)
    if per_day > per_shopper:  # "up to 5 a day, 3 in all" promises draws nobody can have
        raise GameInputError("per_day", N_("%(label)s may not be more than the draws per person in all (%(all)s)."),
                             all=per_shopper)
    prizes = tuple(p for p in (_prize(form, i) for i in range(1, MAX_PRIZES + 1)) if p is not None)
    if not prizes:
        raise GameInputError("p1_title_zh", N_("A game needs at least one prize."))
    if sum(p.odds for p in prizes) > ODDS_SCALE:
        raise GameInputError("p1_odds", N_("The prizes' odds add up to more than 100%%."))
    total = _whole(form, "total", 1, MAX_STOCK * MAX_PRIZES)
    last_day = _last_day(form, today)
    return GameSpec(titles["title_en"], titles["title_zh"], style, per_shopper, per_day,
                    min(total, sum(p.stock for p in prizes)), last_day, prizes)


def parse_texts(form: Any, prizes: tuple[Prize, ...]) -> tuple[dict[str, str], tuple[Prize, ...]]:
    """The edit-in-place form -> ({title_en, title_zh}, the prizes with their new titles): only texts, the
    odds, stocks and limits as they are; GameInputError naming the first bad field (as `parse_game`'s)."""
    titles = _titles(form, "title")
    renamed = []
    for prize in prizes:
        pair = _titles(form, f"{prize.id}_title")
        renamed.append(replace(prize, title_en=pair[f"{prize.id}_title_en"], title_zh=pair[f"{prize.id}_title_zh"]))
    return titles, tuple(renamed)


def new_code() -> str:
    """A voucher code: 10 symbols from `secrets` (49 bits), shown XXXXX-XXXXX."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))




def normalize_code(raw: str | None) -> str | None:
    """The canonical code for what a person typed (any case, hyphens, spaces), or None."""
    code = (raw or "")[:40].strip().upper().replace("-", "").replace(" ", "")
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return None
    return code


def show_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"
