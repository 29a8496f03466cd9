"""A loyalty card kept by an app that is not the bundled membership: it says which member a shopper is through the
platform's "members" capability (portal/apps/capabilities.py), and exports her card under a field of its own
("card"), so the privacy centre can find a member only by asking the capability
(tests/events/test_mydata_members.py)."""

from portal.apps.capabilities import MEMBERS
from portal.apps.registry import LightApp
from tests.fixtures_apps.cards.store import CardStore, card_members

APP = LightApp(
    name="cards",
    title_en="Cards",
    title_zh="卡",
    landing_endpoint="cards.landing",
    store=CardStore,
    provides={MEMBERS: card_members},
)
