import pytest

from portal.shopper import Shopper, new_shopper, token_store


@pytest.fixture
def shopper(app, demo):
    """A demo-venue shopper and a token for it (as the probe lane would have handed out)."""
    with app.app_context():
        who = new_shopper("demo")
        return who, token_store(app).mint(who)


def mint(app, who: Shopper) -> str:
    with app.app_context():
        return token_store(app).mint(who)
