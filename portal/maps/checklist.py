"""The set-up checklist of a venue: each step says whether it is done, what is missing, and which tool
fixes it. Figures come from the stored map and the live stores (the validation walk: its stored result),
nothing is estimated here; the checklist page adds the expected-error heatmaps of the live estimate.

Survey coverage is measured on a grid of COVER_CELL_M cells over the zones: a cell is covered when a
reference point lies within COVER_RADIUS_M of its centre (the WKNN positioner interpolates between
neighbouring points; further than that it extrapolates). `coverage_grid` is also what the coverage
heatmap and the survey route draw. Each zone shoppers stay in also needs a reference point within
COVER_RADIUS_M of its outline (`uncovered_zones`): a kiosk or a stall is too small for the area share to show."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import shapely
from flask import current_app, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from scipy.spatial import cKDTree
from shapely.geometry import Polygon

from core.addresses import PREMISES_NETWORKS
from core.memo import BoundedMemo
from core.settings import time_zone_name
from fingerprints.model import VenueMap
from fingerprints.quality import TRANSIT_KINDS
from fingerprints.routes import build_graph
from portal.apps import registry
from portal.apps.budgets import shared_address
from portal.apps.locale import local_time, venue_now, venue_time_zone
from portal.apps.views import is_zh
from portal.apps.zone_apps import DEFAULT_APP
from portal.captive.config import PortalConfigStore, address_networks, states_on_premises
from portal.errors import input_error_text
from portal.ingest.health import IngestHealth
from portal.maps.builds import restart_if_lost
from portal.maps.validation import ValidationWalks, visited_share

COVER_CELL_M = 4.0
COVER_RADIUS_M = 6.0
COVERAGE_GOAL = 0.8
WALK_VISITED_GOAL = 0.8  # the validation walk step is done once the last walk visited this share of its route
LIVE_WITHIN_S = 300.0


@dataclass
class Step:
    key: str
    title: str
    done: bool
    detail: str
    missing: list[str] = field(default_factory=list)
    link: str = ""
    link_text: str = ""
    refresh_s: int = 0  # while it changes by itself (a model being built): the page updates after this long


def coverage_grid(venue_map: VenueMap, level: int) -> list[tuple[float, float, int]]:
    """(cell centre x, y, reference points within COVER_RADIUS_M) for every cell whose centre is in a zone,
    cells in column order (x, then y). Computed once per floor's content (see `_floor_inputs`)."""
    inputs = _floor_inputs(venue_map, level)
    return list(_grids.get(inputs, lambda: _grid(*inputs)))


def survey_route(venue_map: VenueMap, level: int, start: tuple[float, float] = (0.0, 0.0)) -> list[tuple[float, float]]:
    """The uncovered cells of a floor in walking order (nearest next, from `start`): where to survey."""
    inputs = _floor_inputs(venue_map, level)
    start = (float(start[0]), float(start[1]))

    def compute() -> tuple[tuple[float, float], ...]:
        todo = [(x, y) for x, y, n in _grids.get(inputs, lambda: _grid(*inputs)) if n == 0]
        return tuple(nearest_next_order(todo, start))

    return list(_routes.get((inputs, start), compute))


# Per floor, keyed by what the grid is made of (size, zone rings, survey points) rather than by (venue,
# version): a version number comes back with other content after a store is emptied (tests, a restore),
# and building the key is a small fraction of a grid's cost. The values are shared: callers get copies.
# 16 floors: a campus floor's grid is a few MB, and computing one again takes well under a second.
_grids = BoundedMemo(16)
_routes = BoundedMemo(16)
_TIE_M = 1e-6  # well above the KD-tree's rounding, well below any distance that tells two cells apart


def _floor_inputs(venue_map: VenueMap, level: int) -> tuple:
    fl = venue_map.floor(level)
    rings = tuple(tuple(map(tuple, z.polygon)) for z in venue_map.zones if z.floor == level and len(z.polygon) >= 3)
    points = tuple((s.x, s.y) for s in venue_map.samples if s.floor == level)
    return float(fl.width_m), float(fl.height_m), rings, points


def _grid(width: float, height: float, rings: tuple, points: tuple) -> tuple[tuple[float, float, int], ...]:
    """The grid of `coverage_grid`: each zone tests only the cell centres within its bounds (one vectorised
    shapely call), and a KD-tree of the survey points counts each cell's neighbours."""
    cols, rows = max(1, math.ceil(width / COVER_CELL_M)), max(1, math.ceil(height / COVER_CELL_M))
    xs, ys = (np.arange(cols) + 0.5) * COVER_CELL_M, (np.arange(rows) + 0.5) * COVER_CELL_M
    inside = np.zeros((cols, rows), dtype=bool)
    for ring in rings:
        polygon = Polygon(ring)
        if polygon.is_empty:
            continue
        min_x, min_y, max_x, max_y = polygon.bounds
        (i0, i1), (j0, j1) = _span(min_x, max_x, cols), _span(min_y, max_y, rows)
        if i0 < i1 and j0 < j1:
            gx, gy = np.meshgrid(xs[i0:i1], ys[j0:j1], indexing="ij")
            inside[i0:i1, j0:j1] |= shapely.contains_xy(polygon, gx, gy)
    inside &= (xs <= width)[:, None] & (ys <= height)[None, :]
    ii, jj = np.nonzero(inside)  # row-major: x outer, y inner, the order cells always had
    centres = np.column_stack((xs[ii], ys[jj]))
    counts = _points_within(centres, np.array(points, dtype=float).reshape(-1, 2))
    return tuple(zip(centres[:, 0].tolist(), centres[:, 1].tolist(), counts.tolist(), strict=True))


def _span(lo: float, hi: float, n: int) -> tuple[int, int]:
    """Indices [a, b) of the cells whose centre ((i + 0.5) * COVER_CELL_M) may lie in [lo, hi]: one cell of
    margin each side, the polygon test decides (all of them for a ring with a coordinate that is not finite)."""
    a = max(0, math.floor(lo / COVER_CELL_M - 0.5) - 1) if math.isfinite(lo) else 0
    b = min(n, math.ceil(hi / COVER_CELL_M - 0.5) + 2) if math.isfinite(hi) else n
    return a, b


def _points_within(centres: np.ndarray, points: np.ndarray) -> np.ndarray:
    """How many of `points` lie within COVER_RADIUS_M of each centre, the test being exactly the Python
    `(px - x) ** 2 + (py - y) ** 2 <= COVER_RADIUS_M ** 2` it always was."""
    counts = np.zeros(len(centres), dtype=int)
    if not len(centres) or not len(points):
        return counts
    near = cKDTree(points).query_ball_point(centres, COVER_RADIUS_M + _TIE_M)
    lengths = np.fromiter(map(len, near), dtype=int, count=len(near))
    if not lengths.sum():
        return counts
    owner = np.repeat(np.arange(len(centres)), lengths)
    dx, dy = points[np.concatenate(near).astype(int)].T - centres[owner].T
    d2, limit = dx * dx + dy * dy, COVER_RADIUS_M ** 2
    within = d2 <= limit
    # numpy squares by multiplying, Python's ** calls pow(): they may differ in the last bit, which only
    # matters for a point right on the circle. Those few are decided as before.
    for k in np.flatnonzero(np.abs(d2 - limit) <= 1e-9):
        within[k] = float(dx[k]) ** 2 + float(dy[k]) ** 2 <= limit
    np.add.at(counts, owner[within], 1)
    return counts


def nearest_next_order(cells: list[tuple[float, float]], start: tuple[float, float]) -> list[tuple[float, float]]:
    """`cells` in nearest-next order from `start`: the same order as taking, again and again, the first of the
    remaining cells with the least `(x - hx) ** 2 + (y - hy) ** 2`, but each step asks a KD-tree for the
    few nearest cells instead of measuring all that remain."""
    if not cells:
        return []
    coords = np.array(cells, dtype=float)
    alive = np.ones(len(cells), dtype=bool)
    ids, tree = np.arange(len(cells)), cKDTree(coords)
    route, here = [], start
    for left in range(len(cells), 0, -1):
        if len(ids) - left > len(ids) // 2 and len(ids) > 64:  # most of the tree taken: rebuild it over the rest
            ids = ids[alive[ids]]
            tree = cKDTree(coords[ids])
        best = _nearest_alive(tree, ids, alive, cells, here)
        alive[best] = False
        route.append(cells[best])
        here = cells[best]
    return route


def _nearest_alive(tree: cKDTree, ids: np.ndarray, alive: np.ndarray, cells: list, here: tuple) -> int:
    """The index of the first remaining cell nearest `here` (ties: the lowest index)."""
    k = min(8, len(ids))
    while True:
        dist, pos = (np.atleast_1d(a) for a in tree.query(here, k=k))
        live = alive[ids[pos]]
        if live.any():
            reach = dist[live][0] + _TIE_M
            if k == len(ids) or dist[-1] > reach:  # every cell as near as the nearest remaining one is here
                found = ids[pos[live & (dist <= reach)]].tolist()
                return min(found, key=lambda c: ((cells[c][0] - here[0]) ** 2 + (cells[c][1] - here[1]) ** 2, c))
        k = min(4 * k, len(ids))


def checklist(svc, venue: str, venue_map: VenueMap | None, model: dict) -> list[Step]:
    """The steps, in the page's language (called in a request). `model`: the recorded model state
    (portal.maps.builds.model_state); a build lost with its process is started again here."""
    drafts = url_for("operator.drafts", venue=venue)
    if venue_map is None or not venue_map.floors:  # the time zone is the venue's, not its map's: set it first
        return [Step("plan", _("Floor plan"), False, _("The venue has no map yet."), [_("an IMDF archive or floors")],
                     drafts, _("Start a draft and add the IMDF plan")), _time_zone(svc, venue)]
    floors, zh = venue_map.floors, is_zh()
    steps = [Step("plan", _("Floor plan"), True,
                  _("%(floors)s floors, %(zones)s zones.", floors=len(floors), zones=len(venue_map.zones)),
                  link=url_for("operator.setup", venue=venue), link_text=_("Venue set-up"))]
    unscaled = [f.label(zh) for f in floors if f.plan_image and not f.metres_per_pixel]
    steps.append(Step("scale", _("Scale"), not unscaled, _("Every floor is in metres.") if not unscaled else
                      _("Plan images without a scale."), unscaled,
                      url_for("operator.floor", venue=venue, level=floors[0].level, tool="scale"), _("Set the scale")))
    no_aps = [f.label(zh) for f in floors if not any(a.floor == f.level for a in venue_map.aps)]
    steps.append(Step("aps", _("Access points"), not no_aps, _("%(n)s AP entries placed.", n=len(venue_map.aps)),
                      [_("floor %(floor)s: no AP", floor=n) for n in no_aps], drafts,
                      _("Add an AP list (CSV, Ekahau, Meraki, UniFi)")))
    steps.append(_zones(svc, venue, venue_map))
    steps.append(_walkways(venue, venue_map))
    steps.append(_coverage(venue, venue_map))
    steps.append(_sources(svc, venue, venue_map))
    model = restart_if_lost(current_app._get_current_object(), venue, venue_map.version, model)
    steps.append(_model(venue, venue_map, model))
    steps.append(_validation(svc, venue, venue_map))
    steps.append(_guest_networks(svc, venue))
    steps.append(_time_zone(svc, venue))
    return steps


def _time_zone(svc, venue: str) -> Step:
    """The venue's clock (its `time_zone`): every day, opening hour, show time and figure is read in it. Unset, the
    TIME_ZONE setting's zone is used, whatever the mall's (Asia/Shanghai by default): a show typed 21:30 in a Madrid
    mall is stored as 21:30 Shanghai time. Done once the venue names its own zone, and one that names a place."""
    own, title = PortalConfigStore(svc.db).time_zone(venue), _("Time zone")
    zone, now = str(venue_time_zone(venue)), venue_now(venue).strftime("%Y-%m-%d %H:%M")
    link, link_text = url_for("operator.time_zone", venue=venue), _("Set the time zone")
    how = _("set it on the time zone page, or with: %(command)s",
            command=f"`python -m portal flask portal-config {venue} time_zone=<Area/City>`")
    if own:
        try:
            time_zone_name(own)
        except ValueError as exc:  # stored before such names were refused (`localtime`: the host's own zone)
            return Step("time_zone", title, False, input_error_text(exc, label=title), [how], link, link_text)
        return Step("time_zone", title, True,
                    _("%(zone)s: the venue's local time now is %(now)s. To change it: %(how)s.", zone=zone, now=now,
                      how=how), link=link, link_text=link_text)
    return Step("time_zone", title, False,
                _("Not set: the `TIME_ZONE` setting's zone, %(zone)s, is used (local time there now: %(now)s), and "
                  "every day, opening hour, show time and figure follows it.", zone=zone, now=now),
                [_("the venue's own zone, such as Europe/Madrid"), how], link, link_text)


def _guest_networks(svc, venue: str) -> Step:
    """Where a request naming a phone by a MAC no gateway vouched for may come from (the venue's `client_networks`,
    portal/captive/landing.py Landing.placeable). Unset or `on-premises`, only from the premises' own kind of
    address: right for a portal on the mall's network, but a portal hosted outside sees its guests at the mall's
    public addresses, and must name them (else every such phone lands on the mall home). Done once it names the
    networks, or says `on-premises` while no gateway setting names a public address (a portal that sees its
    gateways there is hosted outside, and sees its guests there too). Where it names public IPv4 addresses (the
    mall's NAT: `shared_address`), it says that the per-address budgets do not count there, and what does."""
    config = PortalConfigStore(svc.db)
    setting, title = config.client_networks_setting(venue), _("Guest networks")
    if setting and not states_on_premises(setting):
        detail = _("A MAC no gateway vouched for places a phone only in a request from %(networks)s.",
                   networks=setting)
        if shared := _shared_networks(setting):
            detail += " " + _("%(networks)s: public addresses, the mall's NAT, at which this portal sees a whole "
                              "crowd, so the per-address abuse budgets do not count there (they would be one "
                              "budget for every shopper). What holds back one phone there is its device budget "
                              "(where the gateway vouched for it), its shopper budget, each action's shared "
                              "ceilings (per offer, show, restaurant, activity or venue) and, for plate lookups, "
                              "payments, texts and push, a crowd's budget for that address (`.egress`).",
                              networks=shared)
        return Step("client_networks", title, True, detail)
    command = f"`python -m portal flask portal-config {venue} client_networks=...`"
    todo = [_("a portal hosted outside the mall: set `client_networks` to the mall's public (egress) addresses, "
              "or its guests land on the mall home"), _("set it with: %(command)s", command=command)]
    if not setting:
        return Step("client_networks", title, False,
                    _("Not set: a MAC no gateway vouched for places a phone only in a request from a loopback, "
                      "private, CGNAT, link-local or IPv6 unique-local address (a portal on the mall's own network)."),
                    [todo[0], _("a portal on the premises: set it to `on-premises` (or to the guest networks)"),
                     todo[1]])
    if seen := _gateways_outside(config.get(venue)):
        return Step("client_networks", title, False,
                    _("Set to `on-premises`, but `%(setting)s` names %(networks)s: the portal sees its gateways at "
                      "public addresses, so it is hosted outside the mall and sees its guests there too. A MAC no "
                      "gateway vouched for places no phone: they land on the mall home.",
                      setting=seen[0], networks=seen[1]), todo)
    return Step("client_networks", title, True,
                _("On the premises (`on-premises`): a MAC no gateway vouched for places a phone only in a request "
                  "from a loopback, private, CGNAT, link-local or IPv6 unique-local address. Were this portal hosted "
                  "outside the mall, its guests would land on the mall home: then name the mall's public addresses "
                  "instead."))


def _shared_networks(setting: str) -> str:
    """The networks of a `client_networks` setting whose addresses the budgets count as shared (their first
    address a `shared_address`), comma-separated; "" for none (or a value written some other way than `set`)."""
    try:
        networks = address_networks(setting)
    except ValueError:
        return ""
    shared = [n for n in networks if shared_address(str(n.network_address), networks)]
    return ", ".join(str(n.network_address) if n.num_addresses == 1 else str(n) for n in shared)


# The settings naming the addresses the portal sees its gateways at: outside the premises' own kind, the portal is
# hosted outside the mall (its guests reach it through the same NAT).
GATEWAY_ADDRESS_SETTINGS = ("wifidog_gateways", "opennds_authmon_from")


def _gateways_outside(settings: dict[str, str]) -> tuple[str, str] | None:
    """(setting, its networks outside PREMISES_NETWORKS) of the first gateway address setting naming any."""
    for name in GATEWAY_ADDRESS_SETTINGS:
        try:
            networks = address_networks(settings.get(name, ""))
        except ValueError:  # written some other way than `set`: no evidence either way
            continue
        outside = [str(n) for n in networks
                   if not any(n.version == p.version and n.subnet_of(p) for p in PREMISES_NETWORKS)]
        if outside:
            return name, ", ".join(outside)
    return None


def _zones(svc, venue: str, venue_map: VenueMap) -> Step:
    """Where a phone in each zone lands. A zone with no app chosen for it runs the mall directory
    (zone_apps.DEFAULT_APP: ZoneAppStore.decode, which the probe's landing reads), and corridors, lobbies and
    car parks have no owner to choose one: that is a landing, not a gap. Wrong is a map with no zones (every
    phone lands on the mall home) and a zone whose app this portal does not run (LIGHT_APPS): its phones land
    on the mall home instead of the zone's page."""
    title, link, link_text = _("Zones and their apps"), url_for("operator.owners", venue=venue), _("Zone owners")
    if not venue_map.zones:
        return Step("zones", title, False, _("The map has no zones: every phone lands on the mall home."),
                    [_("zones: the IMDF plan's units, or drawn with a floor's zone tool")],
                    url_for("operator.floor", venue=venue, level=venue_map.floors[0].level, tool="zone"),
                    _("Draw zones"))
    assigned = svc.zone_apps.all(venue)
    apps = {z.id: assigned[z.id][0] if z.id in assigned else DEFAULT_APP for z in venue_map.zones}
    chosen = sum(1 for z in venue_map.zones if z.id in assigned)
    detail = _("%(zones)s zones: %(chosen)s with an app chosen for them, %(default)s on the mall directory "
               "(where a zone with no app lands).", zones=len(apps), chosen=chosen, default=len(apps) - chosen)
    not_run = [(zone, app) for zone, app in apps.items() if registry.get(app) is None]
    missing = [_("zone %(zone)s: its app %(app)s is not one this portal runs (LIGHT_APPS): phones there land on "
                 "the mall home", zone=zone, app=app) for zone, app in not_run[:20]]
    return Step("zones", title, not not_run, detail, missing, link, link_text)


def _sources(svc, venue: str, venue_map: VenueMap) -> Step:
    health = IngestHealth(svc.db).snapshot(venue, time.time(), venue_map, svc.settings.ap_silent_after_s)
    live = [s for s in health["sources"] if s.get("last_report_age_s") is not None
            and s["last_report_age_s"] <= LIVE_WITHIN_S]
    detail = ngettext("%(num)s source reported in the last %(minutes)s minutes; %(silent)s of %(aps)s APs silent.",
                      "%(num)s sources reported in the last %(minutes)s minutes; %(silent)s of %(aps)s APs silent.",
                      len(live), minutes=f"{LIVE_WITHIN_S / 60:.0f}", silent=health["totals"]["aps_silent"],
                      aps=health["totals"]["aps"])
    return Step("sources", _("Report sources seen live"), bool(live), detail, _silent_or_how(venue, health, live),
                url_for("operator.health", venue=venue), _("Ingest health"))


SILENT_LISTED = 20  # silent APs named in the step; the ingest health page lists them all


def _silent_or_how(venue: str, health: dict, live: list) -> list[str]:
    """No feed yet (a new mall): how to connect one, not every AP's BSSID (all silent, the count says so);
    a feed: the first SILENT_LISTED silent APs and how many more."""
    if not live:
        return [_("no report yet: issue each feed a token (%(command)s) and point the APs or their controller at "
                  "%(url)s, or at the URL of its format (README: Partner API)",
                  command=f"`python -m portal flask issue-token {venue} <label>`",
                  url=f"/api/v1/venues/{venue}/reports")]
    silent = [ap for ap in health["aps"] if ap["silent"]]  # one row per AP, however many BSSIDs it is listed under
    missing = [_("AP %(name)s (%(bssids)s): silent", name=ap["name"], bssids=", ".join(ap["bssids"])) if ap["name"]
               else _("AP %(bssid)s: silent", bssid=", ".join(ap["bssids"])) for ap in silent[:SILENT_LISTED]]
    if len(silent) > SILENT_LISTED:
        missing.append(_("and %(n)s more silent APs (Ingest health lists them all)", n=len(silent) - SILENT_LISTED))
    return missing


# The model record's words (portal.maps.builds), as the page says them.
_MODEL_STATES = {"building": _l("building"), "ready": _l("ready"), "failed": _l("failed")}
_BUILD_STEPS = {"queued": _l("queued"), "loading map": _l("loading map"), "fitting": _l("fitting")}


def _model(venue: str, venue_map: VenueMap, model: dict) -> Step:
    version, state = model.get("version"), model.get("state")
    ready = state == "ready" and version == venue_map.version
    words = str(_MODEL_STATES.get(state, _("not built")))
    if state == "building":
        words = _("%(state)s (%(step)s, %(progress)s)", state=words, step=str(_BUILD_STEPS.get(model.get("step"), "")),
                  progress=f"{model.get('progress', 0.0):.0%}")
    detail = _("Model of map v%(version)s: %(state)s.", version=version or "-", state=words)
    if ready or state == "building":
        missing = []
    elif state == "failed":
        missing = [model.get("error") or _("not built")]
    else:
        missing = [_("not built for the current map v%(version)s", version=venue_map.version)]
    return Step("model", _("Positioning model"), ready, detail, missing, url_for("operator.versions", venue=venue),
                _("Map versions"), refresh_s=3 if state == "building" else 0)


def _validation(svc, venue: str, venue_map: VenueMap) -> Step:
    """The last validation walk (portal.maps.validation): what shoppers' phones really get along a route."""
    link, title = url_for("operator.validation", venue=venue), _("Validation walk")
    last = ValidationWalks(svc.db).last(venue)
    if last is None:
        return Step("validation", title, False, _("No validation walk recorded yet."),
                    [_("walk a route with a phone, then upload the route (ts,floor,x,y) and the phone's readings "
                       "at the APs (ts,ap,rssi), or run %(command)s",
                       command="`python -m portal flask validation-walk`")],
                    link, _("Run a validation walk"))
    # venue time, as the validation walks page and the audit log show the same walk (UTC here read as 8 h off)
    when = local_time(last["at"], venue).strftime("%Y-%m-%d %H:%M")
    # The rates are over the points visited, the error over those placed: a walk that stopped after one point
    # reads 100% on that point, so the step needs most of the route walked.
    detail = _("Last walk %(when)s on map v%(version)s: %(visited)s. Of the points visited: right zone %(zone)s, "
               "right floor %(floor)s; live error over the %(placed)s placed: mean %(mean)s, p95 %(p95)s.",
               when=when, version=last["version"], visited=_visited(last), zone=_share(last["zone_rate"]),
               floor=_share(last["floor_rate"]), placed=last["located"], mean=_metres(last["mean_error_m"]),
               p95=_metres(last["p95_error_m"]))
    detail += " " + _("The step is done once a walk visits at least %(goal)s of its route.",
                      goal=f"{WALK_VISITED_GOAL:.0%}")
    share, missing = visited_share(last), []
    if share is None:
        missing.append(_("the route's length was not recorded with this walk (an older one): walk again to "
                         "measure the whole route"))
    elif share < WALK_VISITED_GOAL:
        missing.append(_("the walk visited %(share)s of its route (goal %(goal)s): walk the route to its end, "
                         "marking every point", share=_floor_percent(last["points"], last["route_points"]),
                         goal=f"{WALK_VISITED_GOAL:.0%}"))
    if last["version"] != venue_map.version:
        missing.append(_("the map changed since (now v%(version)s): walk again to measure this version",
                         version=venue_map.version))
    return Step("validation", title, share is not None and share >= WALK_VISITED_GOAL, detail, missing, link,
                _("Validation walks"))


def _visited(last: dict) -> str:
    """How much of its route a stored walk visited."""
    visited, route = last["points"], last["route_points"]
    if route is None:
        return _("%(visited)s route points visited (the route's length was not recorded)", visited=visited)
    if visited >= route:
        return ngettext("%(num)s route point, all visited", "%(num)s route points, all visited", route)
    return ngettext("%(visited)s of %(num)s route point visited", "%(visited)s of %(num)s route points visited",
                    route, visited=visited)


def _floor_percent(part: int, whole: int) -> str:
    """part / whole as a whole percent rounded down (integer arithmetic: 79.5% is never shown as the 80% goal)."""
    return f"{100 * part // whole}%"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _metres(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} m"


def _walkways(venue: str, venue_map: VenueMap) -> Step:
    """Done when every zone has a linked walkway node in or next to it, on a venue of more than one floor
    every floor's walkways join the others' (a route can go from any floor to any other), and a node is marked
    as an entrance (where the quality report's live estimate starts its shoppers on foot: without one it
    places them along the lobbies and corridors, and reads the first probe low)."""
    link, title = url_for("operator.drafts", venue=venue), _("Walkways")
    if not venue_map.nodes:
        return Step("walkways", title, False, _("No walkway graph."), [_("derive it from the IMDF plan")], link,
                    _("Add derived walkways to a draft"))
    graph = build_graph(venue_map)
    # Each floor's linked nodes as one array of points: one vectorised distance call per zone rather than a
    # Point and a call per (zone, node), most of the page's time on a campus plan once the grid was fast.
    linked: dict[int, list[tuple[float, float]]] = {}
    for n in graph:
        if graph.degree(n) > 0:
            linked.setdefault(graph.nodes[n]["floor"], []).append((graph.nodes[n]["x"], graph.nodes[n]["y"]))
    nodes = {level: shapely.points(np.array(xy, dtype=float)) for level, xy in linked.items()}
    unreached = []
    for zone in venue_map.zones:
        polygon = Polygon(zone.polygon)
        if zone.floor not in nodes or not (shapely.distance(polygon, nodes[zone.floor]) <= 3.0).any():
            unreached.append(_("zone %(zone)s: no walkway node in or next to it", zone=zone.id))
    detail = _("%(nodes)s nodes, %(links)s links.", nodes=len(venue_map.nodes), links=len(venue_map.edges))
    apart, one_way = floors_not_joined(venue_map, graph)
    missing = []
    if apart or one_way:
        detail, missing = _floors_apart(venue_map, apart, one_way, detail)
        first = apart[1][0] if apart else one_way[0]
        link, link_text = url_for("operator.floor", venue=venue, level=first, tool="walkway"), _("Link the floors")
    else:
        link_text = _("Add derived walkways to a draft")
    if not venue_map.entrance_spots():
        missing.append(_("no entrance marked: mark the street doors where shoppers on foot come in (the quality "
                         "report's claim places them along lobbies and corridors otherwise)"))
        level = entrance_floor(venue_map)
        if not (apart or one_way) and level is not None:  # joining the floors comes first: its link stays
            link = url_for("operator.floor", venue=venue, level=level, tool="walkway")
            link_text = _("Mark the entrances")
    missing += unreached[:20]
    return Step("walkways", title, not missing, detail, missing, link, link_text)


def entrance_floor(venue_map: VenueMap) -> int | None:
    """The floor whose walkway tool the walkways step links for marking the entrances: the lowest of the map's floors
    that hold walkway nodes and are not only car park (garage zones and no other: the lowest floor is often the car
    park, the street doors a floor up); else the lowest with walkway nodes; else the lowest floor; None on a map
    without floors (nodes left on none: no floor page to link)."""
    levels = {f.level for f in venue_map.floors}
    walked = levels & {n.floor for n in venue_map.nodes}
    kinds: dict[int, set[str]] = {}
    for zone in venue_map.zones:
        kinds.setdefault(zone.floor, set()).add(zone.kind)
    not_car_park = {level for level in walked if kinds.get(level, set()) != {"garage"}}
    return min(not_car_park or walked or levels, default=None)


def _floors_apart(venue_map: VenueMap, apart: list[list[int]], one_way: list[int], detail: str) -> tuple[str, list]:
    """The walkways step's words for floors not joined (`floors_not_joined`): its detail and what is missing."""
    zh = is_zh()
    names = {f.level: f.label(zh) for f in venue_map.floors}

    def floors(levels: list[int]) -> str:
        return ngettext("floor %(names)s", "floors %(names)s", len(levels),
                        names=", ".join(names[level] for level in levels))

    missing = []
    if apart:
        detail += " " + _("The floors are not all joined: the walkways fall into %(n)s parts that no lift, escalator "
                          "or stairs link joins (%(parts)s), and a route from one to another is refused.",
                          n=len(apart), parts=" | ".join(floors(p) for p in apart))
        missing += [ngettext("%(part)s: no lift, escalator or stairs link joins it to %(main)s",
                             "%(part)s: no lift, escalator or stairs link joins them to %(main)s", len(part),
                             part=floors(part), main=floors(apart[0])) for part in apart[1:]]
    if one_way:
        missing.append(_("%(floors)s: reached or left one way only (an escalator with no way back, no lift or "
                         "stairs)", floors=floors(one_way)))
    missing.append(_("to fix: link the floors in the map editor (a floor's walkway tool: a lift, escalator or "
                     "stairs link between a node on each floor), or add the IMDF plan's relationship features "
                     "(elevator, escalator, stairs) and import it again"))
    return detail, missing


def floors_not_joined(venue_map: VenueMap, graph: nx.DiGraph | None = None) -> tuple[list[list[int]], list[int]]:
    """On a venue of more than one floor: ([the floors of each part of the walkway graph that no link joins to
    the others], [floors joined to the rest but reached, or left, one way only]); ([], []) when a route
    goes from every floor to every other. Parts are the graph's connected pieces (links taken both ways),
    each given as its floors in level order; a floor with no linked walkway node is a part of its own. The
    largest part (most floors, then most nodes) comes first."""
    levels = sorted(f.level for f in venue_map.floors)
    if len(levels) < 2:
        return [], []
    graph = graph if graph is not None else build_graph(venue_map)
    linked = graph.subgraph([n for n in graph if graph.degree(n) > 0])
    known = set(levels)

    def floors_of(nodes) -> set[int]:
        return {graph.nodes[n]["floor"] for n in nodes} & known

    weak = sorted(nx.weakly_connected_components(linked), key=lambda c: (-len(floors_of(c)), -len(c)))
    # A floor belongs to the first (largest) part holding one of its nodes: a stray piece of walkway on a
    # joined floor is not a floor cut off (the zones' check above names what it leaves unreached).
    parts: list[list[int]] = []
    placed: set[int] = set()
    for component in weak:
        floors = sorted(floors_of(component) - placed)
        if floors:
            parts.append(floors)
            placed.update(floors)
    parts += [[level] for level in levels if level not in placed]
    if len(parts) == 1:
        # Joined when links are taken both ways; a route needs them the way they run (escalators).
        main = weak[0]
        strong = max(nx.strongly_connected_components(linked.subgraph(main)),
                     key=lambda c: (len(floors_of(c)), len(c)))
        return [], sorted(set(parts[0]) - floors_of(strong))
    return parts, []


def _coverage(venue: str, venue_map: VenueMap) -> Step:
    """Done when every floor has COVERAGE_GOAL of its zones' area covered and every zone where shoppers stay
    has a reference point near it (`uncovered_zones`)."""
    missing, covered_all, cells_all, zh = [], 0, 0, is_zh()
    dwell_all = dwell_covered = 0
    for fl in venue_map.floors:
        cells = coverage_grid(venue_map, fl.level)
        covered = sum(1 for _x, _y, n in cells if n > 0)
        covered_all, cells_all = covered_all + covered, cells_all + len(cells)
        if cells and covered / len(cells) < COVERAGE_GOAL:
            missing.append(_("floor %(floor)s: %(share)s of its zones' area within %(radius)s m of a reference "
                             "point (goal %(goal)s)", floor=fl.label(zh), share=_floor_percent(covered, len(cells)),
                             radius=f"{COVER_RADIUS_M:g}", goal=f"{COVERAGE_GOAL:.0%}"))
        dwell, uncovered = uncovered_zones(venue_map, fl.level)
        dwell_all, dwell_covered = dwell_all + dwell, dwell_covered + dwell - len(uncovered)
        if uncovered:
            missing.append(_zones_unsurveyed(fl.label(zh), uncovered))
    # The share of the zones' area (grid cells), not of the zones: a 60 m corridor with a point at one end is a
    # covered zone, and mostly unsurveyed floor. The zones' count says what the area hides: a kiosk or a stall
    # is a sliver of the area.
    detail = _("%(points)s reference points; %(share)s of the zones' area covered (within %(radius)s m of one).",
               points=len(venue_map.samples), share=_floor_percent(covered_all, cells_all) if cells_all else "0%",
               radius=f"{COVER_RADIUS_M:g}")
    if dwell_all:
        detail += " " + ngettext("%(covered)s of %(num)s zone where shoppers stay has one within %(radius)s m.",
                                 "%(covered)s of %(num)s zones where shoppers stay have one within %(radius)s m.",
                                 dwell_all, covered=dwell_covered, radius=f"{COVER_RADIUS_M:g}")
    return Step("coverage", _("Survey coverage"), cells_all > 0 and not missing, detail, missing,
                url_for("operator.survey", venue=venue), _("Survey (plans a route over what is uncovered)"))


ZONES_LISTED = 5  # unsurveyed zones named per floor in the coverage step; the count says how many in all


def _zones_unsurveyed(floor: str, zones: list[str]) -> str:
    names = ", ".join(zones[:ZONES_LISTED])
    if len(zones) > ZONES_LISTED:
        names = _("%(zones)s and %(n)s more", zones=names, n=len(zones) - ZONES_LISTED)
    return ngettext("floor %(floor)s: %(num)s zone where shoppers stay has no reference point within %(radius)s m "
                    "of it: %(zones)s",
                    "floor %(floor)s: %(num)s zones where shoppers stay have no reference point within %(radius)s m "
                    "of them: %(zones)s", len(zones), floor=floor, zones=names, radius=f"{COVER_RADIUS_M:g}")


def uncovered_zones(venue_map: VenueMap, level: int) -> tuple[int, list[str]]:
    """(how many zones of the floor shoppers stay in, the ids of those with no reference point within
    COVER_RADIUS_M of their outline). Stays are every kind but the TRANSIT_KINDS (passed through: the area
    share measures those). The grid misses small zones: a 9 m² kiosk may hold no cell centre, and a food hall's
    stalls, where landing is worst, are a sliver of the area."""
    zones = [z for z in venue_map.zones if z.floor == level and z.kind not in TRANSIT_KINDS
             and len(z.polygon) >= 3 and np.isfinite(np.asarray(z.polygon, dtype=float)).all()]
    points = np.array([(s.x, s.y) for s in venue_map.samples if s.floor == level], dtype=float).reshape(-1, 2)
    covered: set[int] = set()
    if zones and len(points):
        tree = shapely.STRtree(shapely.points(points))
        near = tree.query([Polygon(z.polygon) for z in zones], predicate="dwithin", distance=COVER_RADIUS_M)
        covered = set(near[0].tolist())
    return len(zones), [z.id for i, z in enumerate(zones) if i not in covered]
