"""A validated IMDF archive -> VenueMap (import_imdf), and the imported map as a venue's next version
(merge_imported; the rule itself is fingerprints.edits.merge_imported)."""

from __future__ import annotations

import copy
import hashlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from shapely import STRtree
from shapely.errors import GEOSException
from shapely.geometry import LineString, Point, Polygon
from shapely.ops import unary_union

from core.errors import N_, CatalogInputError, CatalogText
from fingerprints import edits
from fingerprints.geometry import zone_map
from fingerprints.georef import Origin
from fingerprints.imdf.navgraph import derive_from_imdf
from fingerprints.imdf.schema import (
    CONNECTOR_KINDS,
    EXTENSION,
    GENERIC_UNIT_CATEGORIES,
    KIOSK_NAMES,
    STRUCTURAL_UNITS,
    ImdfError,
    amenity_kind,
    kind_for_occupant_categories,
    kind_for_unit_category,
    unit_category_names,
)
from fingerprints.imdf.shapes import MAX_HOLES, OCCUPIED_M2, keep_holes, single_ring, unit_parts
from fingerprints.imdf.validate import _Checker, _is_number, feature_at, read_imdf_files
from fingerprints.model import (
    ID_RE,
    AccessPoint,
    Amenity,
    Floor,
    ImdfUnit,
    Shop,
    VenueMap,
    WalkEdge,
    WalkNode,
    Zone,
    normalise_bssid,
)


def _label(labels: dict | None, *langs: str, any_language: bool = True) -> str | None:
    """The label in the first of `langs` it has (a language tag or its subtags: zh, zh-Hans), else (with
    `any_language`) its first label in whatever language: an archive named in French is still named. Tags are
    compared case-insensitively, as BCP 47 says they are: {"zh-Hans": ..., "EN": ...} has an English name."""
    if not labels:
        return None
    for lang in langs:
        wanted = lang.lower()
        for key, value in labels.items():
            tag = key.lower()
            if tag == wanted or tag.startswith(wanted + "-"):
                return value
    return next(iter(labels.values())) if any_language else None


# The Chinese labels in the order the product's (Simplified) Chinese name is taken from: Simplified, then a label that
# says no script, then Traditional (a tag's subtags count: zh-Hans-CN is zh-Hans).
ZH_TAGS = ("zh-hans", "zh-cn", "zh-sg", "zh", "zh-hant", "zh-hk", "zh-tw", "zh-mo")


def chinese_tag(labels: dict | None) -> str | None:
    """The tag of the label the Chinese name is taken from (ZH_TAGS' order, then any other zh-* one), if any."""
    for wanted in ZH_TAGS:
        for key in labels or {}:
            tag = key.lower()
            if tag == wanted or (wanted != "zh" and tag.startswith(wanted + "-")):
                return key
    return next((key for key in labels or {} if key.lower().startswith("zh-")), None)


def _chinese(labels: dict | None) -> str | None:
    tag = chinese_tag(labels)
    return labels[tag] if tag else None


def unit_names(labels: dict | None, category: str) -> tuple[str, str]:
    """A unit's (English, Chinese) names as its zone takes them: the English label, else any (an archive named in
    Russian is still named), else its category's name (schema.unit_category_names); the Chinese label, else the
    same name, or the category's Chinese name for an unnamed unit."""
    label = _label(labels, "en")
    unnamed_en, unnamed_zh = unit_category_names(category)  # a category code is no place name
    return label or unnamed_en, _chinese(labels) or label or unnamed_zh


def floor_names(labels: dict | None, level: int) -> tuple[str, str]:
    """A level's (English, Chinese) names as its floor takes them: the English label, else any, else its number;
    the Chinese label, else none ("": the floor's name in both languages)."""
    return _label(labels, "en") or str(level), _chinese(labels) or ""


def _merged(labels: Iterable[dict | None]) -> dict[str, str]:
    """Several features' labels as one (a floor of several levels): each language's from the first that has it."""
    out: dict[str, str] = {}
    for one in labels:
        for tag, text in (one or {}).items():
            if tag.lower() not in {t.lower() for t in out}:
                out[tag] = text
    return out


def _slug_text(text: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")[:40]


def _slug(text: str | None, fallback: str, taken: set[str]) -> str:
    base = _slug_text(text) or fallback
    if not ID_RE.match(base):
        base = fallback
    candidate, n = base, 2
    while candidate in taken:
        candidate = f"{base}-{n}"
        n += 1
    taken.add(candidate)
    return candidate


def _scripts(text: str) -> set[str]:
    """The scripts of the letters in `text`, as far as naming goes: "latin" (accented too), "han", or "other"."""
    names = (unicodedata.name(ch, "") for ch in text if ch.isalpha())
    return {"latin" if "LATIN" in n else "han" if n.startswith("CJK ") else "other" for n in names}


def _pinyin(text: str) -> str:
    from pypinyin import Style, lazy_pinyin  # lazy: loading its dictionaries takes ~0.7 s; only Chinese names need it

    return " ".join(lazy_pinyin(text, style=Style.NORMAL))


def _short_ids(ids: Iterable[str]) -> dict[str, str]:
    """Each feature id's short form: its first 8 characters (a UUID's first group), or where another id of the
    archive starts alike (a tool that numbers its ids), a hash of the whole id."""
    ids = list(ids)
    starts = Counter(i[:8].lower() for i in ids)
    return {i: i[:8].lower() if starts[i[:8].lower()] == 1 else hashlib.sha1(i.lower().encode()).hexdigest()[:10]
            for i in ids}


def _zone_id_bases(units: list[dict]) -> dict[str, tuple[str, str]]:
    """Unit feature id -> (what its zone id is made from, the fallback where that leaves nothing), for `_slug`: a name
    in Latin letters, or the category of an unnamed unit, as ever (`walkway`, `walkway-2` in file order: a venue's
    zone ids must not change on a re-import); the pinyin of a Chinese name; else (a name in another script:
    "Кабинет 178а" left only `178`, and "Кабинет 178" `178-2`, by file order) the unit id's short form. A pinyin that
    another unit's name gives too takes the unit's short id as well: which room gets which id never depends on the
    file's order."""
    short = _short_ids(f["id"] for f in units)
    bases, pinyin = {}, set()
    for f in units:
        names = f["properties"].get("name")
        label, zh = _label(names, "en"), _chinese(names)
        if not label or _scripts(label) <= {"latin"}:
            bases[f["id"]] = label or f["properties"]["category"]
        elif zh and _scripts(zh) <= {"latin", "han"}:
            bases[f["id"]] = _pinyin(zh)
            pinyin.add(f["id"])
        else:
            bases[f["id"]] = "unit-" + short[f["id"]]
    slugs = Counter(_slug_text(base) for base in bases.values())
    for unit in pinyin:
        if slugs[_slug_text(bases[unit])] > 1:
            bases[unit] = f"{_slug_text(bases[unit])[:29]}-{short[unit]}"
    return {unit: (base, "unit-" + short[unit]) for unit, base in bases.items()}


def _imdf_unit(feature: dict, parts: list[Polygon]) -> ImdfUnit:
    """A unit that is no zone (stairs, a lift shaft), as the floor keeps it for the export to write back."""
    def ring(coords) -> tuple[tuple[float, float], ...]:
        return tuple((round(x, 4), round(y, 4)) for x, y in list(coords)[:-1])

    props = feature["properties"]
    return (feature["id"].lower(), props["category"], tuple((props.get("name") or {}).items()),
            tuple((ring(p.exterior.coords), *(ring(hole.coords) for hole in p.interiors)) for p in parts))


def _all_positions(geom: dict | None) -> Iterable[list[float]]:
    if not geom:
        return
    stack = [geom.get("coordinates")]
    while stack:
        c = stack.pop()
        if isinstance(c, list) and c and _is_number(c[0]):
            yield c
        elif isinstance(c, list):
            stack.extend(c)


MAX_ORDINAL = 999


def _levels_by_ordinal(levels: list[dict]) -> dict[int, list[dict]]:
    """Levels grouped by ordinal, each group's indoor levels first (the floor takes the first one's name)."""
    groups: dict[int, list[dict]] = {}
    for f in levels:
        groups.setdefault(f["properties"]["ordinal"], []).append(f)
    return {o: sorted(g, key=lambda f: bool(f["properties"].get("outdoor"))) for o, g in groups.items()}


def import_imdf(source: Mapping[str, Any] | str | Path | bytes, venue_id: str | None = None) -> VenueMap:
    """Parse and validate an IMDF archive (dict of files, zip path or zip bytes) into a VenueMap.
    Raises ImdfError (ValueError) naming the file, feature id and problem; returns only if valid.
    Where an operator sees the result, use import_imdf_with_notes: it also says what was left out."""
    return import_imdf_with_notes(source, venue_id)[0]


def import_imdf_with_notes(source: Mapping[str, Any] | str | Path | bytes,
                           venue_id: str | None = None) -> tuple[VenueMap, list[CatalogInputError]]:
    """import_imdf, and notes on what the archive has that the map does not keep or reads otherwise than written (the
    parts of a unit drawn as a MultiPolygon other than its largest, occupant categories we do not list, a venue's
    missing display_point, slivers cut between neighbours, holes filled): imported all the same, but never silently.
    A problem that leaves every feature readable (a category off IMDF's list) does not stop the later checks: the
    archive is refused with all of them at once. Each note is a
    catalog message (a console says it in the page's language, portal.errors.input_error_text; `str()` is the
    English the CLI prints)."""
    files = read_imdf_files(source)
    checker = _Checker(files)
    try:
        checker.run()
    except (TypeError, KeyError, AttributeError, IndexError, ValueError, OverflowError) as exc:  # unforeseen
        raise ImdfError([*checker.problems, CatalogInputError("", N_("the archive's data is malformed (%(error)s)"),
                                                              error=f"{type(exc).__name__}: {exc}")]) from None
    if checker.blocking:
        raise ImdfError(checker.problems)
    notes: list[CatalogInputError] = list(checker.notes)
    try:  # past problems that leave every feature readable, the map is built too: one round lists all problems
        venue = _built(checker.features, venue_id, notes)
    except ImdfError as exc:
        raise ImdfError([*checker.problems, *exc.details]) from None
    if checker.problems:
        raise ImdfError(checker.problems)
    return venue, notes


def _built(feats: dict[str, list[dict]], venue_id: str | None, notes: list[CatalogInputError]) -> VenueMap:
    origin = _plan_origin(feats)  # outside the `try`: its problems are not the extension's
    try:
        venue, unit_ids = _build_map(feats, origin, venue_id, notes)
    except ImdfError:
        raise
    except (TypeError, KeyError, AttributeError, IndexError, ValueError, OverflowError, GEOSException) as exc:
        raise ImdfError([CatalogInputError(f"{EXTENSION}_*.geojson", N_("%(label)s: extension data is malformed "
                                                                        "(%(error)s)"),
                                           error=f"{type(exc).__name__}: {exc}")]) from None
    _check_positionable(venue, unit_ids, notes)
    return venue


MAX_VENUE_SPAN_DEG = 1.0  # ~111 km: a venue's coordinates spanning more are not longitude/latitude


def _check_lonlat(feats: dict[str, list[dict]]) -> None:
    """ImdfError when the archive's coordinates cannot be WGS84 longitude/latitude: beyond the poles' or the
    antimeridian's numbers, or spanning more than MAX_VENUE_SPAN_DEG (an exporter that wrote local metres, or
    another projection). Said as such, not as the floor sizes or origin they would make."""
    positions = [p for items in feats.values() for f in items if isinstance(f, dict)
                 for p in _all_positions(f.get("geometry"))]
    if not positions:
        return
    lons, lats = [p[0] for p in positions], [p[1] for p in positions]
    span = (max(lons) - min(lons), max(lats) - min(lats))
    if max(map(abs, lons)) <= 180 and max(map(abs, lats)) <= 85 and max(span) <= MAX_VENUE_SPAN_DEG:
        return
    raise ImdfError([CatalogInputError("", N_(
        "the archive's coordinates are not longitude/latitude (WGS84): they run from %(west)s, %(south)s to "
        "%(east)s, %(north)s, a span of %(w)s x %(h)s degrees where a venue spans a small fraction of one (local "
        "metres or another projection?). Export the plan in longitude/latitude"),
        west=f"{min(lons):g}", south=f"{min(lats):g}", east=f"{max(lons):g}", north=f"{max(lats):g}",
        w=f"{span[0]:g}", h=f"{span[1]:g}")])


def _plan_origin(feats: dict[str, list[dict]]) -> Origin:
    """Where the plan's (0, 0) lies: our extension's origin, else (another tool's archive) the north-west corner
    of everything. ImdfError when it cannot be (coordinates that are not lon/lat, a bad origin of ours)."""
    ext = (feats.get("mallportal_venue.geojson") or [None])[0]
    if ext:
        ext_props = ext["properties"]
        try:
            values = [edits.finite(ext_props["origin_lon"]), edits.finite(ext_props["origin_lat"]),
                      edits.finite(ext_props.get("rotation_deg") or 0.0)]
            return Origin(*values)
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ImdfError([CatalogInputError(feature_at("mallportal_venue.geojson", ext["id"]),
                                               N_("%(label)s: bad origin (%(error)s)"), error=str(exc))]) from None
    _check_lonlat(feats)
    positions = [p for name in ("venue.geojson", "level.geojson", "unit.geojson")
                 for f in feats.get(name, []) for p in _all_positions(f["geometry"])]
    return Origin(min(p[0] for p in positions), max(p[1] for p in positions))


def _build_map(feats: dict[str, list[dict]], origin: Origin, venue_id: str | None,
               notes: list[CatalogInputError]) -> tuple[VenueMap, dict[str, str]]:
    """The map, and the unit feature id each zone came from (problems found later name the file's ids)."""
    problems: list[CatalogInputError] = []
    venue_f = feats["venue.geojson"][0]
    ext = (feats.get("mallportal_venue.geojson") or [None])[0]
    ext_props = ext["properties"] if ext else {}
    vid = venue_id or ext_props.get("venue_id") or _slug(_label(venue_f["properties"]["name"], "en"), "venue", set())
    if not ID_RE.match(str(vid)):
        raise ImdfError([CatalogInputError("", N_("venue id %(id)s is not a valid id (lower-case letters, digits, - "
                                                  "and _)"), id=repr(vid))])

    # floors: one per ordinal. Levels that share an ordinal (an outdoor level beside the indoor one, the same
    # storey of two buildings) are one floor here: the positioner and the walkway graph stack floors by number.
    # A floor reaches as far as its levels and their units (a unit drawn past its level's outline is kept).
    ext_floors = {f.get("level_id"): f for f in ext_props.get("floors", []) if isinstance(f, dict)}
    level_of: dict[str, int] = {f["id"]: f["properties"]["ordinal"] for f in feats["level.geojson"]}
    floors = []
    for level, group in sorted(_levels_by_ordinal(feats["level.geojson"]).items()):
        named = group[0]
        ids = {f["id"] for f in group}
        drawn = [*group, *(u for u in feats["unit.geojson"] if u["properties"]["level_id"] in ids)]
        xs, ys = zip(*(origin.to_plan(p[0], p[1]) for f in drawn for p in _all_positions(f["geometry"])), strict=True)
        extra = next((ext_floors[f["id"]] for f in group if f["id"] in ext_floors), {})
        where = feature_at("level.geojson", named["id"])
        try:
            width = edits.finite(extra.get("width_m") or math.ceil(max(xs) * 100) / 100)  # up: every unit on its floor
            height = edits.finite(extra.get("height_m") or math.ceil(max(ys) * 100) / 100)
            scale = edits.finite(extra["metres_per_pixel"]) if extra.get("metres_per_pixel") is not None else None
        except (TypeError, ValueError, OverflowError):
            problems.append(CatalogInputError(where, N_("%(label)s: the floor's size or scale is not a finite number")))
            continue
        if width <= 0 or height <= 0:
            problems.append(CatalogInputError(where, N_("%(label)s: level lies west or north of the venue origin")))
        elif width > edits.MAX_PLAN_M or height > edits.MAX_PLAN_M:  # a stray vertex kilometres off: refused before the
            problems.append(CatalogInputError(  # walkway graph is derived over the whole of it
                where, N_("%(label)s: the floor would be %(w)s x %(h)s m; at most %(max)s m (a vertex far from the "
                          "rest?)"), w=f"{width:.0f}", h=f"{height:.0f}", max=f"{edits.MAX_PLAN_M:g}"))
        if not -MAX_ORDINAL <= level <= MAX_ORDINAL:
            problems.append(CatalogInputError(where, N_("%(label)s: ordinal %(level)s is not a floor number "
                                                        "(-%(max)s..%(max)s)"), level=level, max=MAX_ORDINAL))
        plan_image = extra.get("plan_image")
        labels = _merged(f["properties"]["name"] for f in group)  # two buildings' storeys: a name from either
        floor_name, floor_zh = floor_names(labels, level)
        short = (_label(_merged(f["properties"].get("short_name") for f in group), "en") or "").strip()
        floors.append(Floor(level=level, name=floor_name, width_m=width,
                            height_m=height, plan_image=plan_image if isinstance(plan_image, str) else None,
                            metres_per_pixel=scale if scale and scale > 0 else None,
                            name_zh=floor_zh, imdf_names=labels,
                            short_name=short if short != floor_name else ""))  # our export repeats the name
    if problems:  # nothing below is worth deriving over a plan this far off
        raise ImdfError(problems)
    # walls: ours from the extension; otherwise unit outlines (minus openings) stand in for walls
    walls: dict[int, list[tuple[float, float, float, float]]] = {fl.level: [] for fl in floors}
    for f in feats.get("mallportal_walls.geojson", []):
        level = level_of.get(f["properties"].get("level_id"))
        geom = f.get("geometry")
        if level is None or not geom or geom.get("type") != "LineString":
            problems.append(CatalogInputError(feature_at("mallportal_walls.geojson", f["id"]),
                                              N_("%(label)s: a wall needs a LineString and a level_id")))
            continue
        pts = [origin.to_plan(p[0], p[1]) for p in geom["coordinates"]]
        walls[level] += [(a[0], a[1], b[0], b[1]) for a, b in zip(pts, pts[1:], strict=False)]

    # zones
    ext_zones = {z.get("unit_id"): z for z in ext_props.get("zones", []) if isinstance(z, dict)}
    unit_of_anchor = {f["id"]: f["properties"]["unit_id"] for f in feats.get("anchor.geojson", [])}
    occupants_of: dict[str, list[str]] = {}  # unit id -> its occupants' categories
    for f in feats.get("occupant.geojson", []):
        occupants_of.setdefault(unit_of_anchor.get(f["properties"]["anchor_id"]), []).append(
            f["properties"]["category"])
    taken: set[str] = set()
    id_bases = _zone_id_bases([f for f in feats["unit.geojson"]
                               if f["id"] in ext_zones or f["properties"]["category"] not in STRUCTURAL_UNITS])
    fabric: dict[int, list[ImdfUnit]] = {}  # the units that are no zone, per floor: written back on export
    zones: list[Zone] = []
    zone_of_unit: dict[str, str] = {}
    outlines: dict[str, Any] = {}
    parts = {f["id"]: unit_parts(f["geometry"], origin.to_plan) for f in feats["unit.geojson"]}
    kiosks = _kiosks(feats, origin, level_of)
    placed = _placed_by_level(feats, parts, kiosks, level_of)
    for f in feats["unit.geojson"]:
        props = f["properties"]
        extra = ext_zones.get(f["id"])
        if extra is None and props["category"] in STRUCTURAL_UNITS:
            fabric.setdefault(level_of[props["level_id"]], []).append(_imdf_unit(f, parts[f["id"]]))
            continue
        shape, *dropped = parts[f["id"]]
        ring, filled = _zone_ring(shape, *placed[level_of[props["level_id"]]])
        name, zh = unit_names(props.get("name"), props["category"])
        if dropped:  # a zone is one shape: the largest part is kept, and the operator told what is not
            notes.append(_dropped_note(feature_at("unit.geojson", f["id"]), name, shape, dropped))
        if filled:
            notes.append(_filled_note(feature_at("unit.geojson", f["id"]), name, shape, filled))
        zone_id = extra["zone_id"] if extra and ID_RE.match(str(extra.get("zone_id", ""))) else None
        if zone_id in taken:
            problems.append(CatalogInputError(feature_at("unit.geojson", f["id"]),
                                              N_("%(label)s: zone id %(zone)s is used twice"), zone=repr(zone_id)))
            continue
        if zone_id is None:  # from the name, else the category: merged over the venue's map, a unit it already has
            # keeps its zone's id whatever this gives (fingerprints.edits.merge_imported matches them by unit id)
            zone_id = _slug(*id_bases[f["id"]], taken)
        taken.add(zone_id)
        kind = extra.get("kind") if extra else kind_for_unit_category(props["category"])
        if not extra and props["category"] in GENERIC_UNIT_CATEGORIES:  # a "room": what its occupant is
            kind = kind_for_occupant_categories(occupants_of.get(f["id"], [])) or kind
        poly = Polygon(ring) if len(ring) >= 3 else Polygon()
        if not poly.is_valid or poly.area <= 0:
            problems.append(CatalogInputError(feature_at("unit.geojson", f["id"]),
                                              N_("%(label)s: polygon is not a simple shape with an area "
                                                 "(self-intersecting or degenerate)")))
            continue
        zones.append(Zone(id=zone_id, name=name, name_zh=zh, floor=level_of[props["level_id"]],
                          polygon=[(x, y) for x, y in ring], kind=str(kind or "shop"), imdf_id=f["id"].lower(),
                          imdf_names=dict(props.get("name") or {}), imdf_category=props["category"]))
        zone_of_unit[f["id"]] = zone_id
        outlines[zone_id] = shape.boundary  # the walls: the unit's outline with its holes, not the cut ring
    if not any(walls.values()) and not feats.get("mallportal_walls.geojson"):
        openings = unary_union([LineString([origin.to_plan(*p[:2]) for p in f["geometry"]["coordinates"]])
                                for f in feats.get("opening.geojson", [])]) if feats.get("opening.geojson") else None
        gaps = openings.buffer(0.01) if openings is not None else None
        for zone in zones:
            outline = outlines[zone.id]
            rest = outline.difference(gaps) if gaps is not None else outline
            for part in getattr(rest, "geoms", [rest]):
                coords = list(getattr(part, "coords", []))
                for a, b in zip(coords, coords[1:], strict=False):
                    seg = (round(a[0], 3), round(a[1], 3), round(b[0], 3), round(b[1], 3))
                    if seg not in walls[zone.floor] and (seg[2], seg[3], seg[0], seg[1]) not in walls[zone.floor]:
                        walls[zone.floor].append(seg)
    for fl in floors:
        fl.walls = walls[fl.level]
        fl.imdf_units = fabric.get(fl.level, [])
    kiosk_of_anchor = _kiosk_anchors(feats, origin, level_of, kiosks)
    for kiosk_id, zone in _kiosk_zones(feats, kiosks, kiosk_of_anchor, taken, problems, notes):
        zones.append(zone)
        zone_of_unit[kiosk_id] = zone.id

    # shops: occupant -> anchor -> unit (or the kiosk the anchor is in)
    anchors = {f["id"]: f for f in feats.get("anchor.geojson", [])}
    unit_level = {f["id"]: level_of[f["properties"]["level_id"]] for f in feats["unit.geojson"]}
    ext_shops = {s.get("occupant_id"): s for s in ext_props.get("shops", []) if isinstance(s, dict)}
    shop_ids: set[str] = set()
    shops = []
    for f in feats.get("occupant.geojson", []):
        props = f["properties"]
        anchor = anchors[props["anchor_id"]]
        unit_id = anchor["properties"]["unit_id"]
        x, y = origin.to_plan(*anchor["geometry"]["coordinates"][:2])
        extra = ext_shops.get(f["id"], {})
        name = _label(props["name"], "en") or next(iter(props["name"].values()))
        sid = extra.get("shop_id") if ID_RE.match(str(extra.get("shop_id", ""))) else None
        if sid is None or sid in shop_ids:
            sid = _slug(name, "shop-" + f["id"][:8].lower(), shop_ids)
        shop_ids.add(sid)
        zone = extra["zone"] if "zone" in extra else zone_of_unit.get(kiosk_of_anchor.get(props["anchor_id"]),
                                                                      zone_of_unit.get(unit_id))
        shops.append(Shop(id=sid, name=name, name_zh=_chinese(props["name"]) or name,
                          category=str(extra.get("category") or props["category"]), floor=unit_level[unit_id],
                          x=x, y=y, zone=zone if zone in zone_of_unit.values() else None,
                          description=str(extra.get("description") or "")))

    amenities = _amenities(feats, origin, floors, zones, zone_of_unit, problems, notes)

    # access points and the walkway graph (extensions)
    aps, seen_bssids = [], set()
    for f in feats.get("mallportal_aps.geojson", []):
        props, where = f["properties"], feature_at("mallportal_aps.geojson", f["id"])
        try:
            bssid = normalise_bssid(props.get("bssid"))
        except ValueError:
            problems.append(CatalogInputError(where, N_("%(label)s: malformed BSSID %(raw)s"),
                                              raw=f"{props.get('bssid')!r:.40}"))
            continue
        level = level_of.get(props.get("level_id"))
        geom = f.get("geometry")
        if level is None or not geom or geom.get("type") != "Point":
            problems.append(CatalogInputError(where, N_("%(label)s: an AP needs a Point and a level_id")))
            continue
        if bssid in seen_bssids:
            problems.append(CatalogInputError(where, N_("%(label)s: BSSID %(b)s appears twice"), b=bssid))
            continue
        seen_bssids.add(bssid)
        x, y = origin.to_plan(*geom["coordinates"][:2])
        height = props.get("height_m")
        aps.append(AccessPoint(bssid=bssid, floor=level, x=x, y=y, name=str(props.get("name") or ""),
                               height_m=float(height) if _is_number(height) else None,
                               model=str(props.get("model") or "")[:40]))
    nodes, edges = [], []
    for f in feats.get("mallportal_walkways.geojson", []):
        props, where = f["properties"], feature_at("mallportal_walkways.geojson", f["id"])
        if f.get("feature_type") == f"{EXTENSION}:walknode":
            level = level_of.get(props.get("level_id"))
            geom = f.get("geometry")
            if level is None or not geom or geom.get("type") != "Point" or not isinstance(props.get("node_id"), str):
                problems.append(CatalogInputError(where, N_("%(label)s: a walkway node needs a node_id, a Point and a "
                                                            "level_id")))
                continue
            x, y = origin.to_plan(*geom["coordinates"][:2])
            nodes.append(WalkNode(id=props["node_id"], floor=level, x=x, y=y, entrance=props.get("entrance") is True))
        elif f.get("feature_type") == f"{EXTENSION}:walkedge":
            edges.append(WalkEdge(a=str(props.get("a")), b=str(props.get("b")), kind=str(props.get("kind") or "walk"),
                                  oneway=bool(props.get("oneway"))))
    if "mallportal_walkways.geojson" not in feats:  # no graph of ours: derive it from the plan
        nodes, edges = derive_from_imdf(feats, level_of, origin.to_plan)
    node_ids = {n.id for n in nodes}
    for e in edges:
        if e.a not in node_ids or e.b not in node_ids:
            problems.append(CatalogInputError("mallportal_walkways.geojson",
                                              N_("%(label)s: edge %(a)s -> %(b)s names a node that does not exist"),
                                              a=e.a, b=e.b))
    name = _label(venue_f["properties"]["name"], "en") or str(vid)
    name_zh = _chinese(venue_f["properties"]["name"]) or name
    venue = VenueMap(id=str(vid), name=name, name_zh=name_zh,
                     floors=floors, aps=aps, zones=zones, shops=shops, amenities=amenities, nodes=nodes, edges=edges,
                     building=int(ext_props.get("building") or 0),
                     origin={"lon": origin.lon, "lat": origin.lat, "rotation_deg": origin.rotation_deg})
    unit_ids = {zone: unit for unit, zone in zone_of_unit.items()}
    if problems:  # with the zones' overlaps: one round lists every problem
        raise ImdfError([*problems, *_positionable_problems(venue, unit_ids, [])])
    return venue, unit_ids


def _dropped_note(where: CatalogText, name: str, shape: Polygon, dropped: list[Polygon]) -> CatalogInputError:
    return CatalogInputError(CatalogText(N_("%(where)s (%(name)s)"), where=where, name=name),
                             N_("%(label)s: %(n)s other part(s) dropped (%(dropped)s m²); its zone is the largest part "
                                "(%(kept)s m²)"),
                             n=len(dropped), dropped=f"{sum(p.area for p in dropped):.1f}", kept=f"{shape.area:.1f}")


def _filled_note(where: CatalogText, name: str, shape: Polygon, filled: list[Polygon]) -> CatalogInputError:
    return CatalogInputError(CatalogText(N_("%(where)s (%(name)s)"), where=where, name=name),
                             N_("%(label)s: %(n)s of its %(holes)s holes filled, the smallest (%(area)s m² in all): "
                                "a zone keeps at most %(max)s holes besides those another unit or a kiosk stands in"),
                             n=len(filled), holes=len(shape.interiors), area=f"{sum(p.area for p in filled):.1f}",
                             max=MAX_HOLES)


# -- kiosks: IMDF's kiosk features (a stand on a walkway's floor), each a zone of its own ---------------------------

_Kiosk = tuple[dict, int, list[Polygon]]  # the feature, its ordinal, its parts in plan metres (largest first)


def _kiosks(feats: dict[str, list[dict]], origin: Origin, level_of: Mapping[str, int]) -> list[_Kiosk]:
    return [(f, level_of[f["properties"]["level_id"]], unit_parts(f["geometry"], origin.to_plan))
            for f in feats.get("kiosk.geojson", [])]


def _placed_by_level(feats: dict[str, list[dict]], parts: Mapping[str, list[Polygon]], kiosks: list[_Kiosk],
                     level_of: Mapping[str, int]) -> dict[int, tuple[Polygon | None, list[Polygon]]]:
    """Per ordinal: its kiosks as one shape (cut out of the units they stand in), and everything drawn there (the
    units and kiosks: a hole one of them stands in is never filled, see shapes.keep_holes)."""
    out: dict[int, tuple[Polygon | None, list[Polygon]]] = {level: (None, []) for level in level_of.values()}
    for level in out:
        here = [k[2][0] for k in kiosks if k[1] == level]
        units = [parts[f["id"]][0] for f in feats["unit.geojson"] if level_of[f["properties"]["level_id"]] == level]
        out[level] = (unary_union(here) if here else None, [*units, *here])
    return out


def _zone_ring(shape: Polygon, kiosks: Polygon | None,
               placed: list[Polygon]) -> tuple[list[tuple[float, float]], list[Polygon]]:
    """A unit's zone as one ring, less the kiosks standing in it (each is a zone of its own), and the holes that
    ring fills (shapes.keep_holes). A unit the kiosks would leave nothing of keeps its shape (then the two overlap)."""
    if kiosks is not None and shape.intersection(kiosks).area > OCCUPIED_M2:
        rest = shape.difference(kiosks)
        pieces = sorted((p for p in getattr(rest, "geoms", [rest]) if isinstance(p, Polygon)), key=lambda p: p.area)
        shape = pieces[-1] if pieces and pieces[-1].area > OCCUPIED_M2 else shape
    kept, filled = keep_holes(shape, placed)
    return single_ring(kept), filled


def _kiosk_anchors(feats: dict[str, list[dict]], origin: Origin, level_of: Mapping[str, int],
                   kiosks: list[_Kiosk]) -> dict[str, str]:
    """Anchor id -> the kiosk it is in: the kiosk naming it (its anchor_id), else one on its unit's floor whose
    outline holds its point (an archive that anchors a kiosk's occupant in the walkway around it)."""
    out = {k[0]["properties"]["anchor_id"]: k[0]["id"] for k in kiosks if k[0]["properties"].get("anchor_id")}
    unit_level = {f["id"]: level_of[f["properties"]["level_id"]] for f in feats["unit.geojson"]}
    for anchor in feats.get("anchor.geojson", []):
        if anchor["id"] in out:
            continue
        at = Point(origin.to_plan(*anchor["geometry"]["coordinates"][:2]))
        level = unit_level[anchor["properties"]["unit_id"]]
        holding = [f["id"] for f, k_level, k_parts in kiosks if k_level == level and k_parts[0].covers(at)]
        if holding:
            out[anchor["id"]] = holding[0]
    return out


def _kiosk_zones(feats: dict[str, list[dict]], kiosks: list[_Kiosk], kiosk_of_anchor: Mapping[str, str],
                 taken: set[str], problems: list[CatalogInputError],
                 notes: list[CatalogInputError]) -> list[tuple[str, Zone]]:
    """(kiosk feature id, its zone) per kiosk: kind "kiosk", named as the occupant anchored in it is, else as the
    archive names the kiosk, else "Kiosk"."""
    occupant_names: dict[str, dict] = {}
    for f in feats.get("occupant.geojson", []):
        kiosk_id = kiosk_of_anchor.get(f["properties"]["anchor_id"])
        if kiosk_id:
            occupant_names.setdefault(kiosk_id, f["properties"]["name"])
    out = []
    for f, level, (shape, *dropped) in kiosks:
        where = feature_at("kiosk.geojson", f["id"])
        labels = occupant_names.get(f["id"]) or f["properties"].get("name")
        label = _label(labels, "en")
        name = label or KIOSK_NAMES[0]
        if dropped:
            notes.append(_dropped_note(where, name, shape, dropped))
        ring = single_ring(shape)
        if len(ring) < 3 or not Polygon(ring).is_valid or Polygon(ring).area <= 0:
            problems.append(CatalogInputError(where, N_("%(label)s: polygon is not a simple shape with an area "
                                                        "(self-intersecting or degenerate)")))
            continue
        zone_id = _slug(label or "kiosk", "kiosk-" + f["id"][:8].lower(), taken)
        zh = _chinese(labels) or (name if label else KIOSK_NAMES[1])
        out.append((f["id"], Zone(id=zone_id, name=name, name_zh=zh, floor=level, polygon=ring, kind="kiosk",
                                  imdf_id=f["id"].lower())))
    return out


def _amenities(feats: dict[str, list[dict]], origin: Origin, floors: list[Floor], zones: list[Zone],
               zone_of_unit: Mapping[str, str], problems: list[CatalogInputError],
               notes: list[CatalogInputError]) -> list[Amenity]:
    """The amenity points of a kind the directory lists (schema.AMENITY_KINDS), each on its units' floor, in the zone
    it lies in. Lifts, escalators and stairs are left out silently (the walkway graph has them, and our export writes
    their ends as amenities); other categories with one note saying which. A point whose floor is not known (its units
    lie on several, and no zone of theirs holds it) or that lies off its floor's plan is a problem."""
    ordinal = {f["id"]: f["properties"]["ordinal"] for f in feats["level.geojson"]}
    unit_level = {f["id"]: ordinal[f["properties"]["level_id"]] for f in feats["unit.geojson"]}
    plans = {fl.level: fl for fl in floors}
    shapes = {z.id: (z.floor, Polygon(z.polygon)) for z in zones}
    out: list[Amenity] = []
    left_out: dict[str, int] = {}
    for f in feats.get("amenity.geojson", []):
        props, where = f["properties"], feature_at("amenity.geojson", f["id"])
        if props["category"] in CONNECTOR_KINDS:
            continue
        if amenity_kind(props["category"]) is None:
            left_out[props["category"]] = left_out.get(props["category"], 0) + 1
            continue
        x, y = origin.to_plan(*f["geometry"]["coordinates"][:2])
        own = [zone_of_unit[u] for u in props["unit_ids"] if u in zone_of_unit]
        levels = {unit_level[u] for u in props["unit_ids"]}
        if len(levels) > 1:  # units on several floors (a desk serving two): the floor of the one that holds it
            levels = {shapes[z][0] for z in own if shapes[z][1].covers(Point(x, y))}
        if len(levels) != 1:
            problems.append(CatalogInputError(where, N_("%(label)s: its units lie on different levels (ordinals "
                                                        "%(levels)s) and none holds the point"), levels=", ".join(
                map(str, sorted({unit_level[u] for u in props["unit_ids"]})))))
            continue
        level = levels.pop()
        on = edits.onto_plan(plans[level], x, y)
        if on is None:
            problems.append(CatalogInputError(where, N_("%(label)s: the point lies off the plan of ordinal %(level)s "
                                                        "(%(x)s, %(y)s m on a %(w)s x %(h)s m floor)"),
                                              level=level, x=f"{x:.1f}", y=f"{y:.1f}", w=f"{plans[level].width_m:g}",
                                              h=f"{plans[level].height_m:g}"))
            continue
        out.append(_amenity(f["id"], props, level, on, [z for z in own if shapes[z][0] == level], shapes))
    if left_out:
        notes.append(CatalogInputError("amenity.geojson", N_("%(label)s: %(n)s point(s) not imported: the directory "
                                                             "does not list %(categories)s"),
                                       n=sum(left_out.values()),
                                       categories=", ".join(f"{c} ({n})" for c, n in sorted(left_out.items()))))
    return out


def _amenity(feature_id: str, props: dict, level: int, at: tuple[float, float], own: list[str],
             shapes: Mapping[str, tuple[int, Polygon]]) -> Amenity:
    """One amenity of the map: in the zone that holds it (its own units' first), else its own unit's zone on its
    floor. Named as the archive names it: its Chinese label, and its English one, else any other but Chinese (one
    named only in Chinese has no English name: the directory then names it by its category)."""
    here = Point(at)
    inside = [z for z in [*own, *shapes] if shapes[z][0] == level and shapes[z][1].covers(here)]
    labels = props.get("name") or {}
    others = {tag: text for tag, text in labels.items() if not tag.lower().startswith("zh")}
    return Amenity(id=feature_id.lower(), category=props["category"], floor=level, x=at[0], y=at[1],
                   name=_label(others, "en") or "", name_zh=_chinese(labels) or "",
                   zone=next(iter([*inside, *own]), None))


# Overlaps between neighbouring zones up to this are drawing slop (units drawn a few centimetres over each other:
# 0.01-1.11 m² in real archives, under 0.02 of the smaller unit), cut from one of the two with a note. Both bounds
# hold: 1 m² of a 2 m² kiosk is no slop, nor are 40 m² (2% of a 2,000 m² hall). Over NOISE_M2 an overlap is said.
SLIVER_M2 = 2.0
SLIVER_SHARE = 0.02
NOISE_M2 = 0.01  # float noise of the projection: neither cut nor said
WALKED_KINDS = ("corridor", "atrium")  # a sliver is cut from the walkway's side: a shop keeps its outline


def _check_positionable(venue: VenueMap, unit_ids: Mapping[str, str], notes: list[CatalogInputError]) -> None:
    """The zones must make a ZoneMap the positioner can use (valid, non-overlapping polygons): slivers are cut (with
    a note), other overlaps refused. Problems name the archive's unit feature ids and ordinals, which the operator
    can find in the file (not our zone ids)."""
    problems = _positionable_problems(venue, unit_ids, notes)
    if problems:
        raise ImdfError(problems)


def _positionable_problems(venue: VenueMap, unit_ids: Mapping[str, str],
                           notes: list[CatalogInputError]) -> list[CatalogInputError]:
    try:
        zone_map(venue)
    except ValueError as exc:
        return [CatalogInputError("unit.geojson", N_("%(label)s: %(error)s"), error=str(exc))]
    problems = []
    by_floor: dict[int, list[Zone]] = {}
    for z in venue.zones:
        by_floor.setdefault(z.floor, []).append(z)
    for level, zones in by_floor.items():
        shapes = [Polygon(z.polygon) for z in zones]
        for i, j in sorted(zip(*STRtree(shapes).query(shapes, predicate="intersects").tolist(), strict=True)):
            area = shapes[i].intersection(shapes[j]).area if i < j else 0.0  # the shapes as cut so far
            if area <= NOISE_M2:
                continue
            a, b = (f"{unit_ids.get(z.id, z.id)} ({z.name})" for z in (zones[i], zones[j]))
            cut = _cut_sliver(zones, shapes, i, j, area)
            if cut is None:
                problems.append(CatalogInputError("unit.geojson", N_("%(label)s: features %(a)s and %(b)s overlap by "
                                                                     "%(area)s m² on ordinal %(level)s"),
                                                  a=a, b=b, area=f"{area:.2f}", level=level))
            else:
                notes.append(CatalogInputError("unit.geojson", N_(
                    "%(label)s: features %(a)s and %(b)s overlap by %(area)s m² on ordinal %(level)s, a sliver "
                    "(drawing slop): cut from %(cut)s"), a=a, b=b, area=f"{area:.2f}", level=level,
                    cut=(a, b)[cut != i]))
    return problems


def _cut_sliver(zones: list[Zone], shapes: list[Polygon], i: int, j: int, area: float) -> int | None:
    """Cut an overlap of `area` between zones i and j from one of them (SLIVER_M2): the walkway's (WALKED_KINDS),
    else the larger; returns which, or None for an overlap that is no sliver or cannot be cut cleanly."""
    if area >= SLIVER_M2 or area >= SLIVER_SHARE * min(shapes[i].area, shapes[j].area):
        return None
    walked = [k for k in (i, j) if zones[k].kind in WALKED_KINDS]
    first = walked[0] if len(walked) == 1 else max((i, j), key=lambda k: shapes[k].area)
    for k in (first, i + j - first):
        rest = shapes[k].difference(shapes[i + j - k])
        pieces = sorted((p for p in getattr(rest, "geoms", [rest]) if isinstance(p, Polygon)), key=lambda p: p.area)
        if not pieces or shapes[k].area - pieces[-1].area > area + NOISE_M2:  # the cut took more than the sliver
            continue
        ring = single_ring(pieces[-1])
        cut = Polygon(ring)
        if cut.is_valid and cut.intersection(shapes[i + j - k]).area <= NOISE_M2:
            zones[k].polygon, shapes[k] = ring, cut
            return k
    return None


def merge_imported(current: VenueMap | None, imported: VenueMap) -> VenueMap:
    """The imported map as the venue's next version (a new object; `current` is not changed): see
    fingerprints.edits.merge_imported for what is kept."""
    if current is None:
        return imported
    merged = copy.deepcopy(current)
    edits.merge_imported(merged, imported.to_dict())
    return merged
