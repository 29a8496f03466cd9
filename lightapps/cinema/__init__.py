"""Cinema: today's showtimes, seat selection with timed holds, and tickets with a QR code.

Shopper pages live in `views` (blueprint "cinema"), the owner console in `console`, the cinema system's
showtime API in `api`; all seat changes are single Lua scripts in `store`."""

from __future__ import annotations

from lightapps.cinema.api import api_bp
from lightapps.cinema.console import console_bp
from lightapps.cinema.demo import seed
from lightapps.cinema.views import bp
from portal.apps.registry import ConfigField, LightApp


def init_app(flask_app) -> None:
    flask_app.register_blueprint(console_bp)
    flask_app.register_blueprint(api_bp)


def seed_demo(svc, venue_map) -> None:
    seed(svc, venue_map)


APP = LightApp(
    name="cinema",
    title_en="Cinema seats",
    title_zh="影院选座",
    blueprint=bp,
    landing_endpoint="cinema.landing",
    console_endpoint="cinema_console.home",
    config_schema=(
        ConfigField("hold_minutes", "Seat hold (minutes)", type="int", default=8, min=2, max=30,
                    help="How long picked seats stay held before the booking is confirmed."),
        ConfigField("headline_en", "Headline (English)", default="Pick your seats, skip the queue.",
                    max_length=200),
        ConfigField("headline_zh", "Headline (Chinese)", default="在线选座，免排队。", max_length=200),
    ),
    zone_kinds=("cinema",),
    init_app=init_app,
    seed_demo=seed_demo,
)
