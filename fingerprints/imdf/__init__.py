"""Venue maps to and from IMDF (Indoor Mapping Data Format 1.0.0, OGC Community Standard 20-094).

An IMDF archive is one GeoJSON FeatureCollection per feature type (`venue.geojson`, `level.geojson`, ...)
plus `manifest.json`, zipped. `export_imdf` returns {filename: JSON document}; `write_imdf_zip` zips it;
`import_imdf` takes such a dict or a zip and returns a VenueMap, or raises `ImdfError` (a ValueError)
listing every problem found with the file, the feature id and what is wrong. Nothing is returned unless
the whole archive is valid: an import is all or nothing.

Mapping (our model -> IMDF):
- the venue -> one `venue` feature (category "shoppingcenter") and its `address` (required by IMDF);
- each floor -> a `level` (ordinal = floor level), its geometry the floor's rectangle;
- each zone -> a `unit`, category the one it was imported with while its kind still matches it, else from the
  zone kind (garage -> parking, cinema -> movietheater, food and restaurant -> foodservice, atrium ->
  unenclosedarea, anything else -> room); its name labels as imported; units that are not zones (stairs, lifts)
  are kept on their floor (`Floor.imdf_units`) and written back;
- each shop -> an `occupant` (category from ours where IMDF has it, see OCCUPANT_CATEGORY_FOR) with an
  `anchor` point in its unit;
- gaps in the walls between two zones -> `opening` lines (pedestrian);
- each entrance (a walkway node where shoppers on foot come in) -> an `opening` of category "pedestrian.principal"
  (IMDF's principal pedestrian entrance), on the building's exterior edge: the stretch of the outer outline of the
  floor's zones that bounds the zone the node lies in (or is nearest), at the point nearest the node; the gap the
  floor's walls leave there when they draw one (0.5-12 m wide, within 3 m), else 3 m of that edge centred there.
  A node farther than 10 m from such an edge (a door up from a station, a node left mid-floor) gets 3 m along the
  plan's x axis centred on itself (`export._entrance_doors`);
- the ends of lifts, escalators and stairs of the walkway graph -> `amenity` points (of those categories);
- each amenity (an ATM, an information desk...: `VenueMap.amenities`) -> an `amenity` point of its category, under
  the id it was imported with, in its zone's unit (one lying in no zone is left out: IMDF amenities name a unit).
IMDF has no feature type for WiFi access points, walls or a routing graph, so these travel in extension
files next to the standard ones (declared in the manifest's `extensions`, ignored by other tools):
`mallportal_venue.geojson` (plan origin and projection, floor sizes and plans, our ids and zone kinds),
`mallportal_walls.geojson`, `mallportal_aps.geojson` and `mallportal_walkways.geojson` (its walknodes carry
`"entrance": true` where shoppers on foot come in, left out where false; null reads false, any other value is
refused naming the feature). Standard features carry only the properties the standard defines.

Coordinates: IMDF is WGS84 lon/lat; our plans are metres, x to the right and y *down* the plan from its
top-left corner (0, 0). The export places that corner at an `Origin` (lon/lat, plan rotation clockwise
from north-up, 0 by default) with a local equirectangular projection on a sphere (our export and import
round-trip to well under a millimetre; against the WGS84 ellipsoid a distance reads up to ~0.7% off, e.g.
100.67 m for 100 m at Singapore's latitude, 199.62 m for 200 m at Paris's), and stores the origin in
`mallportal_venue.geojson`. An archive from another tool
(no extension) is projected around the north-west corner of its venue geometry.

Import (IMDF -> our model), where the two models differ: levels sharing an ordinal are one floor; a unit's
holes are kept by cutting each to the outline (`shapes.single_ring`: a zone is one ring), a MultiPolygon
unit keeps its largest part (`import_imdf_with_notes` notes each such unit, for the operator to see); lifts,
stairs and escalators stacked on consecutive floors are joined when no relationship names them (`navgraph`).
Other tools' drawing slop is read as IMDF allows, each with a note: an occupant category spelt the IMDF way but
not in our list is kept (by its parent's meaning where we list the parent); a missing venue `display_point` is
filled from the outline; two units overlapping by a sliver (under 2 m² and 2% of the smaller) have it cut from
the walkway, else the larger unit (`build._check_positionable`); a unit keeps every hole another unit or a kiosk
stands in and at most 100 empty ones (`shapes.keep_holes`). `kiosk.geojson`'s kiosks become zones of kind
`kiosk`, cut out of the unit they stand in, named after the occupant anchored in them.
Entrances: with our walkway extension, its walknodes' `entrance` (the openings then make no nodes, so our own
export's entrance openings add none); without it, the node `navgraph` makes at an opening's middle is an entrance
when the opening is a "pedestrian.principal" one wherever it lies, or another pedestrian one ("pedestrian",
"pedestrian.*") on the building's exterior - its middle on the outline of exactly one unit and on the floor's outer
outline (the union of the level's units, or the level's own outline), as ArcGIS Indoors' "Generate Facility
Entryways" takes the units' exterior edge; an emergency exit, service, automobile or bicycle opening never is.
Amenity points of the categories the directory lists (`schema.AMENITY_KINDS`: atm, information, firstaid,
babychanging, mothersroom, restroom*, ...) become `VenueMap.amenities`: the floor of their units (of the one whose
zone holds the point, where they lie on several; none holding it is a problem), the zone that holds them (else their
unit's), their names as given. Lifts, escalators and stairs are not (the walkway graph has them: our export's
amenities of those categories are its ends); other categories are not either, and one note says how many of each.
A point off its floor's plan is a problem. Merged over a venue's map, the archive's amenities replace the map's (as
its shops do), in the zones that keep their ids.
A level's zh label is the floor's `name_zh`; an unnamed unit is named from its category in both languages
(`schema.unit_category_names`; its zone id still comes from the category, so a re-import keeps it). Problems
name the archive's feature ids and ordinals. Merged over a venue's map (`fingerprints.edits.merge_imported`),
what is kept moves with the plan's corner through lon/lat, and an import leaving any of it off the plan is refused.
"""

from fingerprints.georef import DEFAULT_ORIGIN, Origin
from fingerprints.imdf.build import import_imdf, import_imdf_with_notes, merge_imported
from fingerprints.imdf.export import export_imdf, imdf_zip_bytes, write_imdf_zip
from fingerprints.imdf.schema import EXTENSION, EXTENSION_FILES, IMDF_VERSION, ImdfError
from fingerprints.imdf.validate import read_imdf_files, validate_imdf

__all__ = [
    "DEFAULT_ORIGIN", "EXTENSION", "EXTENSION_FILES", "IMDF_VERSION", "ImdfError", "Origin", "export_imdf",
    "imdf_zip_bytes", "import_imdf", "import_imdf_with_notes", "merge_imported", "read_imdf_files", "validate_imdf",
    "write_imdf_zip",
]
