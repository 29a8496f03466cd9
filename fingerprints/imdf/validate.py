"""Reading an IMDF archive (zip or dict of files) and checking it against the rules in schema.py."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shapely.errors import GEOSException
from shapely.geometry import shape

from core.errors import N_, CatalogInputError, CatalogText
from fingerprints import archives
from fingerprints.imdf.schema import (
    CATEGORY_LISTS,
    CATEGORY_RE,
    EXTENSION,
    EXTENSION_FILES,
    GEOMETRY_TYPES,
    IMDF_VERSION,
    MAX_ZIP_BYTES,
    MAX_ZIP_MEMBERS,
    NON_NULL,
    PARTIAL_CATEGORY_LISTS,
    RELATIONSHIP_DIRECTIONS,
    REQUIRED,
    REQUIRED_FILES,
    STANDARD_FILES,
    ImdfError,
    by_dotted_base,
)


def read_imdf_files(source: Mapping[str, Any] | str | Path | bytes) -> dict[str, Any]:
    """{filename: parsed JSON} from a dict (values parsed or JSON text/bytes), a zip path or zip bytes.
    Files inside one top folder of the zip are accepted too. Raises ImdfError for unreadable input."""
    if isinstance(source, Mapping):
        raw = dict(source)
    else:
        label = "archive" if isinstance(source, bytes) else str(source)
        try:
            with archives.open_zip(source, label) as zf:
                members = [m for m in zf.infolist() if not m.is_dir()]
                archives.check_sizes(members, MAX_ZIP_MEMBERS, MAX_ZIP_BYTES)
                raw = {}
                for m in members:
                    name = m.filename.rsplit("/", 1)[-1]
                    if name.startswith(".") or "__MACOSX" in m.filename:
                        continue
                    if name in raw:
                        raise ImdfError([CatalogInputError(name, N_("%(label)s: appears twice in the archive"))])
                    raw[name] = archives.read_member(zf, m)
        except archives.ArchiveProblem as exc:
            raise ImdfError([exc if isinstance(exc, CatalogInputError) else str(exc)]) from None
    out = {}
    problems: list[str | CatalogInputError] = []
    for name, value in raw.items():
        if isinstance(value, bytes | str) and not _is_imdf_member(name):
            continue  # a LICENSE.txt or README beside the data (Apple's sample archive ships one)
        if isinstance(value, bytes | str):
            try:
                value = json.loads(value)
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: nested too deep
                problems.append(CatalogInputError(name, N_("%(label)s: not valid JSON (%(error)s)"),
                                                  error=f"{type(exc).__name__}: {str(exc)[:200]}"))
                continue
        out[name] = value
    if problems:
        raise ImdfError(problems)
    return out


def _is_imdf_member(name: str) -> bool:
    """The files an archive's data lives in: the manifest and GeoJSON feature collections."""
    return name == "manifest.json" or name.endswith(".geojson")


# 1.0.0 and the betas before it (Apple's sample archive says 1.0.0.beta.2; the features are the same).
_SUPPORTED_VERSION_RE = re.compile(r"^1\.0\.0(?:[.-][0-9A-Za-z]+)*\Z")
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def feature_at(name: str, feature: str | int) -> CatalogText:
    """Where a feature of file `name` is: its id, or its place in the list (#0, ...) when it has no string id."""
    if isinstance(feature, int):
        return CatalogText(N_("%(file)s: feature #%(i)s"), file=name, i=feature)
    return CatalogText(N_("%(file)s: feature %(id)s"), file=name, id=feature)


def _is_number(v: object) -> bool:
    """A finite JSON number a float can hold (an integer of 400 digits is not: float() overflows)."""
    if not isinstance(v, int | float) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


Problem = tuple[str, dict[str, object]]  # a catalog message ("%(label)s: ...") and its values; %(label)s: where


def _position_problem(pos: object) -> Problem | None:
    if not isinstance(pos, list) or len(pos) < 2 or not all(_is_number(v) for v in pos[:2]):
        return N_("%(label)s: position %(pos)s is not [lon, lat]"), {"pos": repr(pos)}
    lon, lat = pos[0], pos[1]
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return N_("%(label)s: position %(pos)s is outside WGS84 lon/lat ranges"), {"pos": repr(pos)}
    return None


def _geometry_problem(geom: dict) -> Problem | None:
    """Structural GeoJSON check of one geometry (type already known to be allowed)."""
    kind, coords = geom.get("type"), geom.get("coordinates")
    if kind == "Point":
        return _position_problem(coords)

    def line(c, min_len):
        if not isinstance(c, list) or len(c) < min_len:
            return N_("%(label)s: %(kind)s needs at least %(n)s positions"), {"kind": kind, "n": min_len}
        for p in c:
            problem = _position_problem(p)
            if problem:
                return problem
        return None

    def polygon(c):
        if not isinstance(c, list) or not c:
            return N_("%(label)s: polygon has no rings"), {}
        for ring in c:
            problem = line(ring, 4)
            if problem:
                return problem
            if ring[0][:2] != ring[-1][:2]:
                return N_("%(label)s: polygon ring is not closed (first and last positions differ)"), {}
        return None

    if kind == "LineString":
        return line(coords, 2)
    if kind in ("MultiPoint", "MultiLineString"):  # a relationship's geometry may be any GeoJSON geometry
        if not isinstance(coords, list) or not coords:
            return N_("%(label)s: %(kind)s has no parts"), {"kind": kind}
        for c in coords:
            problem = _position_problem(c) if kind == "MultiPoint" else line(c, 2)
            if problem:
                return problem
        return None
    if kind == "Polygon":
        return polygon(coords)
    if kind == "MultiPolygon":
        if not isinstance(coords, list) or not coords:
            return N_("%(label)s: MultiPolygon has no polygons"), {}
        for c in coords:
            problem = polygon(c)
            if problem:
                return problem
        return None
    return N_("%(label)s: unsupported geometry type %(kind)s"), {"kind": repr(kind)}


def _is_labels(value: object) -> bool:
    """null, or a labels object such as {"en": "..."}."""
    return value is None or isinstance(value, dict) and bool(value) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items())


_LISTED = {ftype: dict.fromkeys(CATEGORY_LISTS[ftype], True) for ftype in PARTIAL_CATEGORY_LISTS}


class _Checker:
    def __init__(self, files: dict[str, Any]) -> None:
        self.files = files
        self.problems: list[str | CatalogInputError] = []
        self.notes: list[CatalogInputError] = []  # what is read otherwise than written, said but not refused
        self.readable = 0  # of the problems, those that leave the feature readable (a category off IMDF's list)
        self.unlisted: dict[str, dict[str, int]] = {}  # feature type -> well-formed categories we do not list -> count
        self.features: dict[str, list[dict]] = {}
        self.by_id: dict[str, tuple[str, dict]] = {}

    @property
    def blocking(self) -> bool:
        """Whether a problem leaves a feature unread or a reference unresolved: the later stages (references, the
        map, its overlaps) cannot run, whereas after readable problems alone they do, so one round lists them all."""
        return len(self.problems) > self.readable

    def add(self, where: str, template: str, **params: object) -> None:
        """A problem at `where` (a file, or a file's feature): `template` is its catalog message, "%(label)s: ..."
        (a console says it in the page's language; the English is "WHERE: ...")."""
        self.problems.append(CatalogInputError(where, template, **params))

    def add_problem(self, where: str, problem: Problem) -> None:
        self.add(where, problem[0], **problem[1])

    def add_readable(self, where: str, template: str, **params: object) -> None:
        """A problem that leaves the feature readable: later stages still run over it."""
        self.add(where, template, **params)
        self.readable += 1

    def run(self) -> None:
        for name in REQUIRED_FILES:
            if name not in self.files:
                self.add(name, N_("%(label)s: required file is missing"))
        manifest = self.files.get("manifest.json")
        if manifest is not None:
            self._manifest(manifest)
        for ftype in STANDARD_FILES:
            self._collection(f"{ftype}.geojson", ftype)
        for name in EXTENSION_FILES:
            self._collection(name, None)
        self._note_unlisted()
        if not self.blocking:
            self._references()

    def _manifest(self, m: object) -> None:
        if not isinstance(m, dict):
            self.add("manifest.json", N_("%(label)s: must be a JSON object"))
            return
        for key in ("version", "created", "language"):
            if key not in m:
                self.add("manifest.json", N_("%(label)s: required property %(key)s is missing"), key=repr(key))
        if "version" in m and not (isinstance(m["version"], str) and _SUPPORTED_VERSION_RE.match(m["version"])):
            self.add("manifest.json", N_("%(label)s: version %(version)s is not supported (expected %(expected)s)"),
                     version=repr(m["version"]), expected=repr(IMDF_VERSION))

    def _collection(self, name: str, ftype: str | None) -> None:
        doc = self.files.get(name)
        if doc is None:
            return
        if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(
                doc.get("features"), list):
            self.add(name, N_("%(label)s: must be a GeoJSON FeatureCollection with a 'features' list"))
            return
        feats = []
        for i, f in enumerate(doc["features"]):
            if not isinstance(f, dict):
                self.add(feature_at(name, i), N_("%(label)s: must be a JSON object"))
                continue
            fid = f.get("id")
            where = feature_at(name, fid if isinstance(fid, str) else i)
            if not isinstance(fid, str) or not _UUID_RE.match(fid):
                self.add(where, N_("%(label)s: id %(id)s is not a UUID"), id=repr(fid))
                continue
            if fid in self.by_id:
                self.add(where, N_("%(label)s: id is used twice (also in %(other)s)"), other=self.by_id[fid][0])
                continue
            self.by_id[fid] = (name, f)
            if f.get("type") != "Feature":
                self.add(where, N_("%(label)s: 'type' must be \"Feature\""))
            props = f.get("properties")
            if not isinstance(props, dict):
                self.add(where, N_("%(label)s: 'properties' must be an object"))
                continue
            if ftype == "venue" and props.get("display_point") is None:
                f, props = self._with_display_point(where, f, props)
                self.by_id[fid] = (name, f)
            if ftype is None:
                feature_type = f.get("feature_type")
                if not isinstance(feature_type, str) or not feature_type.startswith(EXTENSION + ":"):
                    self.add(where, N_("%(label)s: extension feature_type must start with %(prefix)s:"),
                             prefix=EXTENSION)
                geom = f.get("geometry")
                if geom is not None:
                    problem = _geometry_problem(geom) if isinstance(geom, dict) else (
                        N_("%(label)s: geometry must be an object"), {})
                    if problem:
                        self.add_problem(where, problem)
                entrance = props.get("entrance")  # left out or null: not an entrance; "yes", 1: a typo, refused
                if feature_type == f"{EXTENSION}:walknode" and entrance is not None and not isinstance(entrance, bool):
                    self.add(where, N_("%(label)s: entrance must be true or false, not %(value)s"),
                             value=f"{entrance!r:.40}")
                feats.append(f)
                continue
            if f.get("feature_type") != ftype:
                self.add(where, N_("%(label)s: feature_type %(got)s does not belong in %(name)s (expected %(want)s)"),
                         got=repr(f.get("feature_type")), name=name, want=repr(ftype))
                continue
            if self._feature(where, ftype, f, props):
                feats.append(f)
        self.features[name] = feats

    def _feature(self, where: str, ftype: str, f: dict, props: dict) -> bool:
        ok = True
        allowed = GEOMETRY_TYPES.get(ftype, (None,))
        geom = f.get("geometry", "missing")
        if geom == "missing":
            self.add(where, N_("%(label)s: 'geometry' member is missing (use null where the type has none)"))
            ok = False
        elif geom is None:
            if None not in allowed:
                self.add(where, N_("%(label)s: geometry is null; a %(ftype)s needs %(allowed)s"), ftype=ftype,
                         allowed=" or ".join(a for a in allowed if a))
                ok = False
        elif not isinstance(geom, dict) or geom.get("type") not in allowed:
            got = geom.get("type") if isinstance(geom, dict) else type(geom).__name__
            want = " or ".join(a if a else "null" for a in allowed)
            self.add(where, N_("%(label)s: geometry type %(got)s is not allowed for %(ftype)s features (must be "
                               "%(want)s)"), got=repr(got), ftype=ftype, want=want)
            ok = False
        else:
            problem = _geometry_problem(geom)
            if problem:
                self.add_problem(CatalogText(N_("%(where)s: geometry"), where=where), problem)  # the member named
                ok = False
        for key in REQUIRED.get(ftype, ()):
            if key not in props and key not in NON_NULL.get(ftype, ()):
                continue  # left out where it may be null (Apple's sample archive): read as null (`.get`)
            if key not in props:
                self.add(where, N_("%(label)s: required property %(key)s is missing"), key=repr(key))
                ok = False
            elif props[key] is None and key in NON_NULL.get(ftype, ()):
                self.add(where, N_("%(label)s: property %(key)s must not be null"), key=repr(key))
                ok = False
        if ftype in CATEGORY_LISTS and props.get("category") is not None:
            ok = self._category(where, ftype, props["category"]) and ok
        for key in ("name", "alt_name", "short_name"):
            if key in props and not _is_labels(props[key]):
                self.add(where, N_("%(label)s: property %(key)s must be a labels object such as {\"en\": \"...\"}"),
                         key=repr(key))
                ok = False
        dp = props.get("display_point")
        if dp is not None and (not isinstance(dp, dict) or dp.get("type") != "Point" or _geometry_problem(dp)):
            self.add(where, N_("%(label)s: display_point must be a GeoJSON Point"))
            ok = False
        if ftype == "level":
            if "ordinal" in props and (not isinstance(props["ordinal"], int) or isinstance(props["ordinal"], bool)):
                self.add(where, N_("%(label)s: ordinal must be an integer"))
                ok = False
            if "outdoor" in props and not isinstance(props["outdoor"], bool):
                self.add(where, N_("%(label)s: outdoor must be true or false"))
                ok = False
        if ftype == "amenity" and props.get("unit_ids") is not None and (
                not isinstance(props["unit_ids"], list) or not props["unit_ids"]):
            self.add(where, N_("%(label)s: unit_ids must be a non-empty list of unit ids"))
            ok = False
        return ok

    def _category(self, where: str, ftype: str, cat: object) -> bool:
        """Check a feature's category; False where the feature cannot be read (a category that is not text). One off
        a list we carry part of (PARTIAL_CATEGORY_LISTS) is read when IMDF could spell it (CATEGORY_RE)."""
        if not isinstance(cat, str):
            self.add(where, N_("%(label)s: category %(cat)s is not an IMDF %(ftype)s category"), cat=f"{cat!r:.40}",
                     ftype=ftype)
            return False
        if cat in CATEGORY_LISTS[ftype]:
            return True
        if ftype not in PARTIAL_CATEGORY_LISTS:
            self.add_readable(where, N_("%(label)s: category %(cat)s is not an IMDF %(ftype)s category"),
                              cat=repr(cat), ftype=ftype)
        elif not CATEGORY_RE.match(cat):
            self.add_readable(where, N_("%(label)s: category %(cat)s is not spelt as IMDF spells categories: "
                                        "lowercase words joined by dots, such as \"clothing.womens\""),
                              cat=f"{cat!r:.60}")
        elif by_dotted_base(_LISTED[ftype], cat) is None:  # a child of one we list (dentistry.general) is its parent
            counts = self.unlisted.setdefault(ftype, {})
            counts[cat] = counts.get(cat, 0) + 1
        return True

    def _note_unlisted(self) -> None:
        """One note per file on the well-formed categories we do not list (read all the same)."""
        for ftype, counts in self.unlisted.items():
            self.notes.append(CatalogInputError(
                f"{ftype}.geojson", N_("%(label)s: %(n)s feature(s) of categories MallPortal does not list, kept as "
                                       "they are (the directory lists them among the shops): %(categories)s"),
                n=sum(counts.values()), categories=", ".join(f"{c} ({n})" for c, n in sorted(counts.items()))))

    def _with_display_point(self, where: str, f: dict, props: dict) -> tuple[dict, dict]:
        """The venue with the display_point IMDF requires of it, where it has none, from its outline (MallPortal
        reads none: an archive is not refused for it). A copy: the caller's data stays as it was."""
        geom = f.get("geometry")
        if not isinstance(geom, dict) or geom.get("type") not in GEOMETRY_TYPES["venue"] or _geometry_problem(geom):
            return f, props  # its geometry's problem is said; so is the display_point missing
        try:
            lon, lat = shape(geom).representative_point().coords[0]
        except (GEOSException, ValueError, IndexError):  # an outline too broken for a point inside
            return f, props
        point = [round(lon, 9), round(lat, 9)]
        self.notes.append(CatalogInputError(where, N_("%(label)s: display_point is missing (MallPortal does not use "
                                                      "it); a point inside the venue's outline, %(point)s, stands in"),
                                            point=f"{point[0]}, {point[1]}"))
        props = {**props, "display_point": {"type": "Point", "coordinates": point}}
        return {**f, "properties": props}, props

    def _ref(self, where: str, key: str, value: object, ftype: str, nullable: bool) -> None:
        if value is None:
            if not nullable:
                self.add(where, N_("%(label)s: %(key)s must not be null"), key=key)
            return
        target = self.by_id.get(value) if isinstance(value, str) else None
        if target is None:
            self.add(where, N_("%(label)s: %(key)s %(value)s does not resolve to any feature"), key=key,
                     value=repr(value))
        elif target[1].get("feature_type") != ftype:
            # no article before the feature types: "a anchor", "a amenity", "a opening" read wrong
            self.add(where, N_("%(label)s: %(key)s %(value)s is a feature of type %(got)s, not %(ftype)s"), key=key,
                     value=repr(value), got=str(target[1].get("feature_type")), ftype=ftype)

    def _relationship(self, where: str, props: dict) -> None:
        if props.get("direction") not in RELATIONSHIP_DIRECTIONS:
            self.add(where, N_("%(label)s: direction %(got)s must be one of %(allowed)s"),
                     got=repr(props.get("direction")), allowed=str(RELATIONSHIP_DIRECTIONS))
        intermediary = props.get("intermediary")
        if intermediary is not None and not isinstance(intermediary, list):
            self.add(where, N_("%(label)s: intermediary %(value)s must be null or a list of feature references"),
                     value=f"{intermediary!r:.60}")
            intermediary = []
        # origin and destination are "null or FEATURE-REFERENCE" (a relationship such as a traversal may
        # leave an end out); a reference names its feature by a string id
        refs = [(k, props.get(k)) for k in ("origin", "destination") if props.get(k) is not None]
        refs += [("intermediary", r) for r in intermediary or []]
        for key, ref in refs:
            ref_id = ref.get("id") if isinstance(ref, dict) else None
            if not isinstance(ref_id, str) or ref_id not in self.by_id:
                self.add(where, N_("%(label)s: %(key)s %(ref)s does not name a feature of the archive"), key=key,
                         ref=f"{ref!r:.80}")

    def _references(self) -> None:
        for name, feats in self.features.items():
            for f in feats:
                props, where = f["properties"], feature_at(name, f["id"])
                ftype = f.get("feature_type")
                if ftype in ("unit", "opening", "fixture"):
                    self._ref(where, "level_id", props.get("level_id"), "level", nullable=False)
                if ftype == "venue":
                    self._ref(where, "address_id", props.get("address_id"), "address", nullable=False)
                if ftype in ("level", "amenity", "anchor") and props.get("address_id") is not None:
                    self._ref(where, "address_id", props["address_id"], "address", nullable=True)
                if ftype == "relationship":
                    self._relationship(where, props)
                if ftype == "amenity":
                    for uid in props.get("unit_ids") or []:
                        self._ref(where, "unit_ids", uid, "unit", nullable=False)
                if ftype == "anchor":
                    self._ref(where, "unit_id", props.get("unit_id"), "unit", nullable=False)
                if ftype == "occupant":
                    self._ref(where, "anchor_id", props.get("anchor_id"), "anchor", nullable=False)
                if ftype in ("fixture", "kiosk") and props.get("anchor_id") is not None:
                    self._ref(where, "anchor_id", props["anchor_id"], "anchor", nullable=True)
                if ftype == "kiosk":
                    self._ref(where, "level_id", props.get("level_id"), "level", nullable=False)
                if isinstance(ftype, str) and ftype.startswith(EXTENSION + ":") and props.get("level_id") is not None:
                    self._ref(where, "level_id", props["level_id"], "level", nullable=True)
        venues = self.features.get("venue.geojson", [])
        if len(venues) != 1:
            self.add("venue.geojson", N_("%(label)s: must hold exactly one venue feature, found %(n)s"), n=len(venues))
        if not self.features.get("level.geojson"):
            self.add("level.geojson", N_("%(label)s: holds no level"))


def validate_imdf(files: Mapping[str, Any]) -> None:
    """Raise ImdfError listing every problem; return None if the archive passes."""
    checker = _Checker(dict(files))
    checker.run()
    if checker.problems:
        raise ImdfError(checker.problems)
