"""The smallest light app: a greeting on the landing page of a zone, counted per zone.

Everything else is found by convention (portal/apps/registry.py): the shopper pages in `views`, the demo
data in `demo`; the store is built once per process by the platform."""

from portal.apps.registry import ConfigField, LightApp
from tests.fixtures_apps.hello.store import HelloStore

APP = LightApp(
    name="hello",
    title_en="Hello",
    title_zh="你好",
    landing_endpoint="hello.landing",
    config_schema=(ConfigField("greeting", "Greeting", default="Hello", max_length=40),),
    store=HelloStore,
)
