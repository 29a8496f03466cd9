"""The composition root: the one place that builds the long-lived services and assembles the Flask app.

The web app (`create_app`), the tracker (`python -m portal track`), the CLI and the benches all build
their services here; nothing lower down constructs its own container. Light apps are loaded by module
name from the LIGHT_APPS setting, so the host never imports lightapps/ statically."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping

import redis
from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

from core import logredact
from core.security import MacHasher
from core.settings import PROJECT_ROOT, Settings
from core.storage import StoreBudget, connect, current_store_budget, set_phone_buckets, store_budget
from core.store_health import StoreBreaker
from fingerprints.store import VenueStore
from portal import (
    account_pages,
    api,
    auth,
    cli,
    demo,
    errors,
    headers,
    health,
    hub,
    i18n,
    insights_api,
    map_cli,
    maps,
    operator,
    owner,
    shopper,
    table_cards,
    users_cli,
)
from portal.apps.budgets import BudgetStore
from portal.apps.platform import init_light_apps
from portal.apps.zone_apps import ZoneAppStore
from portal.captive.config import VenueTimeZones
from portal.captive.lane import ProbeLane
from portal.captive.wiring import init_captive
from portal.consent import ConsentStore
from portal.events import EventLog, PresenceTracker, mydata
from portal.events import cli as events_cli
from portal.events.log import payment_listener
from portal.events.moments import MomentsEngine
from portal.events.presence import StaffPhones
from portal.events.privacy import PrivacyStore
from portal.hub.offer import init_keep_offer
from portal.ingest.store import MapAps, RssiStore
from portal.ingest.tokens import ApiTokenStore
from portal.media.views import init_media
from portal.notify import cli as notify_cli
from portal.notify.outbox import Outbox
from portal.notify.views import init_notify
from portal.operator.quality import init_live_estimates
from portal.payments import cli as payments_cli
from portal.payments import views as payment_views
from portal.payments.service import PaymentService
from portal.payments.store import PaymentStore
from portal.services import Services
from portal.static_files import init_static_versions
from portal.tracking import Locator, ModelCache
from portal.tracking.footfall import FootfallStore

log = logging.getLogger(__name__)


def venue_names(venues: VenueStore, venue: str) -> tuple[str, str] | None:
    """(name, Chinese name) of a venue's current map, None without one: what shoppers' notifications say."""
    venue_map = venues.get_map(venue)
    return (venue_map.name, venue_map.name_zh) if venue_map is not None else None


def _occupancy_to_check(presence: PresenceTracker, venue: str, now: float) -> tuple[Mapping[str, int], dict[str, int]]:
    """(live occupancy per zone, the alert limits) for the moments engine's check every tracker round: the count
    (staff left out, a week of the log read for them now and then) only where some zone has a limit to check."""
    limits = presence.limits(venue)
    return (presence.occupancy(venue, now) if limits else {}), limits


def build_services(settings: Settings, db: redis.Redis) -> Services:
    """Every long-lived part of one process, on the connection given (each entry point picks its timeout)."""
    set_phone_buckets(dict(settings.phone_buckets))  # where each phone's hot keys lie (before any is built)
    venues = VenueStore(db, versions_kept=settings.map_versions_kept)
    rssi = RssiStore(db, window_s=settings.rssi_window_s, wait_replicas=settings.ingest_wait_replicas,
                     feed_gap_s=settings.ap_silent_after_s, map_aps=MapAps(venues))
    # APs silent in the live reports are masked out of the model (as the health page calls them silent).
    models = ModelCache(venues, db=db, silent_after_s=settings.ap_silent_after_s)
    locator = Locator(db, models, rssi, cache_s=settings.position_cache_s)
    zones = VenueTimeZones(db, settings.time_zone)  # each venue's zone: the one rule, cached for the hot paths
    events = EventLog(db, maxlen=settings.events_maxlen)
    staff = StaffPhones(db, events, tz_of=zones)  # the insights' staff rule, venue days: footfall, presence, moments
    footfall = FootfallStore(db, tz_of=zones, ttl_days=settings.footfall_hourly_days,
                             days_kept=settings.footfall_daily_days, staff=staff.detected)
    locator.on_positions(footfall.on_positions)  # every phone heard counts, not only those asking
    presence = PresenceTracker(db, leave_after_s=settings.leave_after_s, maxlen=settings.events_maxlen, staff=staff)
    locator.on_positions(presence.on_positions)  # arrive / zone enter / zone leave into the event log
    hasher = MacHasher(settings.mac_hash_key)
    payments = PaymentService(PaymentStore(db), settings.payments, settings.data_dir, notify_base=settings.portal_url)
    payments.listen(payment_listener(events))  # payments and refunds are transactions in the event log
    consent = ConsentStore(db)
    privacy = PrivacyStore(db, hasher, tz_of=zones)  # whole venue days are anonymised
    privacy.consents = consent.allows  # insights: location consent; moments: marketing consent
    return Services(
        settings=settings,
        db=db,
        hasher=hasher,
        venues=venues,
        rssi=rssi,
        tokens=ApiTokenStore(db),
        models=models,
        locator=locator,
        footfall=footfall,
        zone_apps=ZoneAppStore(db),
        payments=payments,
        consent=consent,
        events=events,
        presence=presence,
        privacy=privacy,
        moments=MomentsEngine(db, events, consent=privacy.may_contact,
                               staff=lambda venue: staff(venue, time.time()),  # listed or detected: no moments
                               notifier=Outbox(db).enqueue, tz_of=lambda venue: zones(venue).key,
                               occupancy=lambda venue, now: _occupancy_to_check(presence, venue, now),
                               venue_names=lambda venue: venue_names(venues, venue),
                               shopper_kept_s=settings.shopper_token_ttl_s,
                               # notifications per shopper from all the venue's rules (the abuse budgets')
                               messages=BudgetStore(db, settings.budgets, settings.mac_hash_key)),
        breaker=StoreBreaker.for_client(db),
        time_zones=zones,
    )


# The share of STORE_REQUEST_BUDGET_S the probes and the captive portal's pages get: a phone's OS gives up on a probe
# within seconds, and a probe that fails open (the offline page) at once serves the shopper better than one that waits.
CAPTIVE_BUDGET_SHARE = 1 / 2


class StoreBudgets:
    """WSGI middleware, outermost: every request's store calls charged to its own StoreBudget (core/storage.py). A
    request starts with the captive portal's one (the probe lane answers probes before Flask, where nothing else could
    tell them apart); a Flask page outside the captive portal gets the whole STORE_REQUEST_BUDGET_S
    (`init_store_budget`)."""

    def __init__(self, wsgi_app: Callable, seconds: float) -> None:
        self.wsgi_app = wsgi_app
        self.seconds = seconds

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        with store_budget(StoreBudget(self.seconds)):
            return self.wsgi_app(environ, start_response)


def init_store_budget(app: Flask, seconds: float) -> None:
    """A page outside the captive portal may wait `seconds` on the store, and its round trips' waits feed the
    breaker its views answer 503 by (the slow-call rule: core/store_health.py). A URL value preprocessor of the app:
    those run before every blueprint's (a light app's reads its zone's config) and before any before_request."""

    @app.url_value_preprocessor
    def _page_store_budget(endpoint: str | None, values: dict | None) -> None:
        budget = current_store_budget()
        if budget is None or request.blueprint == "captive":  # the captive portal's pages keep the probes' one
            return
        budget.seconds = seconds
        breaker = errors.views_breaker(recording=True)  # the rule that says which breaker a view's times count in
        budget.observe = breaker.record_duration if breaker is not None else None


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app. Settings come from the environment unless given; with no REDIS_URL the caller
    (portal.serve, or the tests) must have started a server and passed its URL."""
    settings = settings or Settings.from_env()
    logredact.install()  # no raw MAC, phone number or shopper token in the application's log lines
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is not set: start through `make run` (embedded Valkey) or set it")
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_report_bytes,
        TESTING=settings.testing,
        JSON_SORT_KEYS=False,
        PREFERRED_URL_SCHEME=settings.preferred_url_scheme,
        # Set, not setdefault: Flask's own defaults (SameSite None, not Secure) are already in the config.
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
    )
    app.extensions["mallportal"] = svc = build_services(settings, connect(settings))
    maps.init_app(app)  # every new map version: audited, model rebuilt (portal/maps)
    init_live_estimates(app, svc.db, settings.quality_wait_s)  # the quality page's, computed in the background
    shopper.init_shopper(app, svc.db, settings.shopper_token_ttl_s, settings.secure_cookies)
    i18n.init_i18n(app)
    errors.register_error_handlers(app)
    headers.init_security_headers(app)
    init_static_versions(app)  # ?v=<content hash> on every static URL, cached a year when it matches
    auth.init_auth(app)
    app.register_blueprint(account_pages.bp)  # change your password (forced for initial ones); invite links
    app.cli.add_command(users_cli.users)  # flask users create|disable|set-password|list
    app.cli.add_command(payments_cli.payments)  # flask payments sweep|refunds|reconcile
    app.jinja_env.globals.update(shopper_url=shopper.shopper_url, current_shopper=shopper.current_shopper,
                                 current_shopper_token=shopper.current_shopper_token)
    app.add_template_filter(table_cards.cards, "cards")  # console tables as cards on a phone (portal/table_cards.py)
    init_captive(app)
    init_notify(app)  # the notification outbox apps send through, the shoppers' push opt-in
    for blueprint in (api.bp, insights_api.bp, demo.bp, operator.bp, owner.bp, owner.pwa_bp, hub.bp, payment_views.bp):
        app.register_blueprint(blueprint)
    hub.init_hub(app)
    init_keep_offer(app)  # the sign-in sheet's keep offer: once a page, and by Continue while she holds anything
    init_media(app)  # owners' images: served cached, drawn with srcset (portal/media)
    init_light_apps(app, svc)
    mydata.init_app(app)  # the shopper's own data; moment offers on every shopper page
    # Outermost first: refuse bad query strings, then answer OS probes before Flask (portal/captive/lane.py).
    app.wsgi_app = errors.QueryStringGuard(ProbeLane(app, app.wsgi_app), app.url_map)
    if settings.proxy_hops:  # behind deploy/nginx.conf: the client's address is the one the proxy saw
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops)
    app.wsgi_app = StoreBudgets(app.wsgi_app, settings.store_request_budget_s * CAPTIVE_BUDGET_SHARE)
    app.wsgi_app = health.HealthLane(app, app.wsgi_app)  # /healthz, /readyz: before all else (portal/health.py)
    init_store_budget(app, settings.store_request_budget_s)
    cli.register(app)
    map_cli.register(app)
    events_cli.register(app)  # flask insights simulate|show
    notify_cli.register(app)  # flask outbox stats|dead|replay|drop
    return app
