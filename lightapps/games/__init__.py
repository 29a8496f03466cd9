"""Games (the seed's 游戏): a lucky draw, a scratch card or a shake game that a zone's owner (the atrium's
activities team) publishes with a prize pool of coupons and membership points, odds shown to shoppers,
per-shopper and per-day limits and a hard total. The draw is fair (the roll from `secrets` on the server)
and atomic (one Lua script in `store`); a prize is issued as a game voucher with a code, listed in Me and
collected at the game's desk (its owner console). Pure rules in `rules`, shopper pages in `views`."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from lightapps.games.store import GameStore
from portal.apps.registry import ConfigField, LightApp

APP = LightApp(
    name="games",
    title_en="Lucky draw",
    title_zh="幸运抽奖",
    landing_endpoint="games.landing",
    console_endpoint="games_console.home",
    config_schema=(
        ConfigField("desk_en", "Where prizes are collected (English)", default="the service desk", max_length=120),
        ConfigField("desk_zh", "Where prizes are collected (Chinese)", default="服务台", max_length=120),
    ),
    zone_kinds=("atrium", "shop", "food"),
    store=GameStore,
    history={"games.publish": _l("Lucky draw published (%(total)s prizes in all)"),
             "games.edit": _l("Lucky draw texts fixed"),
             "games.stop": _l("Lucky draw stopped"),
             "games.redeem": _l("Prize handed out (code …%(code_end)s)"),
             "games.credit": _l("Points prize credited (code …%(code_end)s)")},
)
