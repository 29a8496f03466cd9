"""A phone's other WiFi sign-ins on a real 3-primary Valkey Cluster, the demo mall's phones spread over 8 buckets
(PHONE_BUCKETS=demo=8): the shopper tokens' scripts with the phones' indexes (ShopperKeys.shoppers_on, in the
venue's slot with her token and phone sets), the lookups, the relink and the revoke, and the erasure that reaches
every shopper of a phone (tests/events/test_erasure_other_sign_ins.py and the erasure from every store,
test_erasure_everywhere.py, rerun here). As tests/cluster/store_paths.py
does for the light apps' stores, a last test fails naming any method of ShopperTokenStore that talks to the store
and that none of these tests ran."""

from __future__ import annotations

import ast
import functools
import inspect

import pytest

import portal.shopper
import tests.events.test_erasure_other_sign_ins as other_sign_ins
from core.storage import set_phone_buckets
from portal.shopper import ShopperKeys, ShopperTokenStore
from tests.cluster.store_paths import _talks
from tests.events.test_erasure_everywhere import test_one_shopper_in_every_app_then_erased  # noqa: F401

for _name, _value in vars(other_sign_ins).items():
    if not _name.startswith("__"):
        globals()[_name] = _value

SCRIPT_MAKERS = ("register_script", "HotScript")


def store_methods() -> list[str]:
    """ShopperTokenStore's methods that send anything to the store (self.db, a pipeline, one of its scripts)."""
    tree = ast.parse(inspect.getsource(portal.shopper))
    (cls,) = (node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == ShopperTokenStore.__name__)
    scripts = {target.attr for node in ast.walk(cls)
               if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
               and getattr(node.value.func, "attr", getattr(node.value.func, "id", None)) in SCRIPT_MAKERS
               for target in node.targets if isinstance(target, ast.Attribute)}
    return sorted(fn.name for fn in cls.body if isinstance(fn, ast.FunctionDef) and fn.name != "__init__"
                  and not fn.decorator_list and _talks(fn, scripts))


REACHED: set[str] = set()


@pytest.fixture(scope="module", autouse=True)
def record_store_methods():
    with pytest.MonkeyPatch.context() as patch:
        for name in store_methods():
            method = getattr(ShopperTokenStore, name)
            patch.setattr(ShopperTokenStore, name, _recording(method, name))
        yield


def _recording(method, name: str):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        REACHED.add(name)
        return method(*args, **kwargs)

    return wrapper


@pytest.fixture
def app(settings, db):
    """The demo mall's phones over 8 buckets: the erasure's per-phone state on several primaries, the shoppers'
    keys (tokens, phone sets, the phones' indexes) in the venue's slot."""
    from portal import create_app

    app = create_app(settings.with_(phone_buckets=(("demo", 8),)))
    yield app
    app.extensions["mallportal"].close(timeout_s=10)
    set_phone_buckets({})  # stores made without an app (the next tests') use one bucket


def test_a_shoppers_keys_share_the_venues_slot(db):
    keys = ShopperKeys("demo")
    slots = {db.keyslot(k) for k in (keys.tokens_of("s-1"), keys.phones_of("s-1"), keys.token("d" * 40),
                                     keys.opened("d" * 40), *(keys.shoppers_on(f"phone-{i}") for i in range(16)))}
    assert slots == {db.keyslot("{demo}")}


def test_every_store_method_ran_on_the_cluster():
    assert {"mint", "resolve", "shoppers_on", "relink", "revoke", "verified_phones"} <= set(store_methods())
    never = sorted(set(store_methods()) - REACHED)
    assert not never, f"no test of this module ran {never} on the cluster: add one that does"
