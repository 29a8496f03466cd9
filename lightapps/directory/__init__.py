"""Directory: the mall home page, shop search, and the fallback landing for any zone.

Shopper pages in `views` (blueprint "directory", found by convention: portal/apps/registry.py)."""

from portal.apps.registry import ConfigField, LightApp

APP = LightApp(
    name="directory",
    title_en="Mall directory",
    title_zh="商场导览",
    landing_endpoint="directory.landing",
    config_schema=(
        ConfigField("welcome_en", "Welcome text (English)", default="Welcome!", max_length=200),
        ConfigField("welcome_zh", "Welcome text (Chinese)", default="欢迎光临！", max_length=200),
    ),
    zone_kinds=("atrium", "shop", "food", "garage", "cinema", "restaurant"),
)
