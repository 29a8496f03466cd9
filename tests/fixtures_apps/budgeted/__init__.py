"""A light app with abuse budgets of its own: declared on its declaration only, as a new app's are (nothing in
core/settings.py names them); tests/test_light_app_platform_checks.py loads it."""

from portal.apps.registry import LightApp

APP = LightApp(
    name="budgeted",
    title_en="Budgeted",
    title_zh="限额",
    landing_endpoint="budgeted.landing",
    budgets={"budgeted.take.ip": (5, 3600), "budgeted.take.shopper": (2, 3600)},
)
