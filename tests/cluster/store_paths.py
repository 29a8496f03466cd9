"""Rerun a chosen part of a light app's store tests on the cluster, and prove it was enough.

What a cluster does differently is per command: a multi-key command, Lua call or MULTI/EXEC naming
keys of two slots is refused (CROSSSLOT), and a cluster client's pipeline is not a transaction. So each
store method that talks to the store must run on the cluster once, not each of its tests: a rerun
module names the tests that reach every such method (its Lua scripts and transactions, and the races
that prove them atomic), and a check that runs after them (tests/cluster/conftest.py orders it last)
fails naming any method none of them reached.

    from tests.cluster.store_paths import rerun
    rerun(globals(), "lightapps.parking.tests.test_parking_store", "test_a", "test_b")

A host store (portal/) names its module:

    rerun(globals(), "tests.security.test_token_rotation", "test_a", store="portal.ingest.tokens")
"""

from __future__ import annotations

import ast
import functools
import importlib
from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT

STORE_MODULES = ("store", "sender")  # the modules of a light app that talk to the store


def store_methods(app: str, store: str | None = None) -> dict[str, tuple[type, str]]:
    """'Class.method' -> (class, name) for each method of the app's store classes (or of the host module `store`'s)
    that sends anything to the store: reads self.db, opens a pipeline or calls one of the class's Lua scripts
    (class methods are constructors: nothing of theirs reaches the store)."""
    found: dict[str, tuple[type, str]] = {}
    for dotted in (store,) if store else (f"lightapps.{app}.{name}" for name in STORE_MODULES):
        path = PROJECT_ROOT / (dotted.replace(".", "/") + ".py")
        if not path.exists():
            continue
        module = importlib.import_module(dotted)
        tree = ast.parse(Path(path).read_text())
        scripts = {target.attr for node in ast.walk(tree) if isinstance(node, ast.Assign)
                   and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Attribute)
                   and node.value.func.attr == "register_script"
                   for target in node.targets if isinstance(target, ast.Attribute)}
        for cls in (node for node in tree.body if isinstance(node, ast.ClassDef)):
            for fn in cls.body:
                if (isinstance(fn, ast.FunctionDef) and fn.name != "__init__" and not fn.decorator_list
                        and _talks(fn, scripts)):
                    found[f"{cls.name}.{fn.name}"] = (getattr(module, cls.name), fn.name)
    return found


def _talks(fn: ast.FunctionDef, scripts: set[str]) -> bool:
    return any(isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load)
               and (node.attr in ("db", "pipeline") or node.attr in scripts) for node in ast.walk(fn))


def rerun(namespace: dict, test_module: str, *tests: str, store: str | None = None) -> None:
    """Bring `tests` of `test_module` (and its fixtures and helpers) into the calling module, with a
    fixture recording which store methods run (the light app's, or the host module `store`'s) and a last test
    that every one of them did."""
    source = importlib.import_module(test_module)
    app = test_module.split(".")[1]
    for name, value in vars(source).items():
        if not name.startswith("__") and (not name.startswith("test_") or name in tests):
            namespace[name] = value
    missing = [name for name in tests if not callable(getattr(source, name, None))]
    assert not missing, f"{test_module} has no {missing}"
    reached: set[str] = set()

    @pytest.fixture(scope="module", autouse=True)
    def record_store_methods():
        with pytest.MonkeyPatch.context() as patch:
            for label, (cls, name) in store_methods(app, store).items():
                patch.setattr(cls, name, _recording(getattr(cls, name), label, reached))
            yield

    def test_every_store_method_ran_on_the_cluster():
        never = sorted(set(store_methods(app, store)) - reached)
        assert not never, f"no test of this module ran {never} on the cluster: add one that does"

    namespace["record_store_methods"] = record_store_methods
    namespace[test_every_store_method_ran_on_the_cluster.__name__] = test_every_store_method_ran_on_the_cluster


def _recording(method, label: str, reached: set[str]):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        reached.add(label)
        return method(*args, **kwargs)

    return wrapper
