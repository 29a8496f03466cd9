"""Navigation: walking routes between any two places in the mall, across floors, drawn on the floor plans.

Endpoints (blueprint `navigation`, url_prefix `/v/<venue>`):
- `navigation.route_page` — GET /v/<venue>/navigate: the route page (a plain GET form; the route drawn as
  server-side SVG per floor, so it works without JavaScript; a "zoomable map" button loads Leaflet with
  L.CRS.Simple as a progressive enhancement). Link to it from other apps with
  `shopper_url('navigation.route_page', venue=venue, to='shop:kopi', **{'from': 'me'})`; query parameters:
    from / to   `me` (where the portal places the shopper) | `shop:<id>` | `zone:<id>` | `<floor>,<x>,<y>`
                (metres on the plan); `from` defaults to `me`
    accessible  `1` for a step-free route (lifts only: no stairs, no escalators)
    to_label    a name for a point destination (e.g. "Your car, bay B12"), at most 60 characters
- `navigation.route_api` — GET /v/<venue>/route?from=..&to=..&accessible=1: JSON {from, to, accessible,
  seconds, minutes, length_m, floors: [{floor, name, legs, points, length_m}], points, steps}; a bad
  parameter gets 400 {"error", "field"/"parameter"}; `me` that cannot be placed 409; no route or an unknown venue
  404; every error carries "field" (null where no one parameter is at fault: portal.errors.error_body).
- `navigation.landing` — GET /v/<venue>/navigate/zone/<zone>: the landing view (venue, zone).
- `navigation.plan` — GET /v/<venue>/plan/<level>.svg: a floor plan without route (the Leaflet overlay).
"""

from portal.apps.registry import LightApp

APP = LightApp(
    name="navigation",
    title_en="Indoor navigation",
    title_zh="室内导航",
    landing_endpoint="navigation.landing",
    resources={"leaflet": "leaflet.leaflet_bp"},  # Leaflet's files, for the zoomable map
    config_schema=(),
    zone_kinds=("atrium", "garage", "shop", "food", "cinema", "restaurant"),
)
