"""The package's shape: no import cycles, layers, no reach into another package's private names, no module over 400
lines, curated `__all__`s, a schema in one place."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import types
from collections import defaultdict
from pathlib import Path

import pytest

import llmbench

PACKAGE = Path(llmbench.__file__).parent
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """llmbench modules `name` imports: at import time, inside functions and in TYPE_CHECKING blocks (a type
    annotation is a dependency too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        found |= {t for t in targets if t in modules and t != name}
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_among_llmbench_modules() -> None:
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        graph[name] = _imports(name, path, modules)
    # A package importing its own submodules is how __init__ re-exports work; it is not a cycle of design.
    for name in list(graph):
        graph[name] = {m for m in graph[name] if not m.startswith(name + ".")}
    assert _cycles(graph) == []


# The layers, lowest first; a module may import its own layer and those below, never one above. Data flows down
# without coming back: providers -> data (datasets, store) -> tools and scorers -> runs (eval, imports) -> analysis
# (router, statistics) -> tracking and the gateway -> the library API, the CLI and the test doubles. The package
# root is a facade: it may name anything (lazily), and anything may read `__version__` from it.
LAYERS: list[tuple[str, ...]] = [
    ("llmbench.errors", "llmbench.aio", "llmbench.lazy", "llmbench.registry", "llmbench.json_safe", "llmbench.text_safe", "llmbench.yaml_safe", "llmbench.mlflow_uri",
     "llmbench.dataset_files", "llmbench.providers.types", "llmbench.providers.model_ref", "llmbench.public_data"),
    ("llmbench.providers",),
    ("llmbench.datasets", "llmbench.store"),
    ("llmbench.tools",),
    ("llmbench.scorers",),
    ("llmbench.evaluation", "llmbench.imports"),
    ("llmbench.router", "llmbench.stats"),
    ("llmbench.tracking", "llmbench.serve"),
    ("llmbench.api", "llmbench.cli", "llmbench.__main__", "llmbench.testing"),
]  # fmt: skip


def _layer(module: str) -> int | None:
    """The layer of a module: its longest matching prefix decides (`providers.types` sits below `providers`)."""
    best: tuple[int, int] | None = None
    for rank, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                best is None or len(prefix) > best[1]
            ):
                best = (rank, len(prefix))
    return None if best is None else best[0]


def test_every_module_has_a_layer_and_imports_none_above_it() -> None:
    modules = _modules()
    unplaced = sorted(m for m in modules if m != "llmbench" and _layer(m) is None)
    assert unplaced == [], "add these modules to LAYERS"
    upward = sorted(
        f"{name} -> {target}"
        for name, path in modules.items()
        if name != "llmbench"
        for target in _imports(name, path, modules)
        if target != "llmbench" and (_layer(target) or 0) > (_layer(name) or 0)
    )
    assert upward == []


def test_the_layer_rule_catches_an_upward_import() -> None:
    assert (
        _layer("llmbench.providers.types") < _layer("llmbench.providers.base") < _layer("llmbench.router.x")
    )  # type: ignore[operator]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("__")


def _package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _private_reaches(sources: dict[str, str]) -> list[str]:
    """`obj._name` reads, in one package, of a private name that another llmbench package defines (a method,
    a class, a function, or an attribute set on `self`; where several do, those of the lowest layer: a subclass
    overriding a private hook does not make it its own): one part reaching into another's insides."""
    trees = {m: ast.parse(text) for m, text in sources.items()}
    owners: dict[str, set[str]] = defaultdict(set)
    for module, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and _private(
                node.name
            ):
                owners[node.name].add(_package_of(module))
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
                and _private(node.attr)
            ):
                owners[node.attr].add(_package_of(module))
    for name, packages in owners.items():  # an override in a higher layer does not make a name its own
        lowest = min(_layer(p) or 0 for p in packages)
        owners[name] = {p for p in packages if (_layer(p) or 0) == lowest}
    found = []
    for module, tree in trees.items():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and _private(node.attr)):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            if node.attr in owners and _package_of(module) not in owners[node.attr]:
                found.append(f"{module}:{node.lineno} {ast.unparse(node)}")
    return sorted(found)


def test_no_package_reads_the_private_names_of_another() -> None:
    sources = {m: p.read_text(encoding="utf-8") for m, p in _modules().items()}
    assert _private_reaches(sources) == []


def test_the_private_reach_finder_finds_one() -> None:
    sources = {
        "llmbench.a.x": "class R:\n    def _inputs(self): ...\n    def go(self): self._inputs()\n",
        "llmbench.b.y": "def f(r): return r._inputs()\n",
        "llmbench.a.z": "def g(r): return r._inputs()\n",  # the same package: its own insides
    }
    assert _private_reaches(sources) == ["llmbench.b.y:1 r._inputs"]


def test_no_module_over_400_lines() -> None:
    long = {str(p.relative_to(PACKAGE.parent)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}  # fmt: skip
    assert long == {}


def _public_packages() -> list[str]:
    names = ["llmbench"]
    for info in pkgutil.walk_packages(llmbench.__path__, "llmbench."):
        if info.ispkg and not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", _public_packages())
def test_public_packages_export_exactly_their_all(name: str) -> None:
    """Every name in `__all__` exists, and every public name the package defines or re-exports from its own
    modules is in `__all__` (httpx's rule): what a user may rely on is listed in one place."""
    package = importlib.import_module(name)
    exported = getattr(package, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(set(exported)) == len(exported), f"{name}.__all__ lists a name twice"
    missing = [n for n in exported if not hasattr(package, n)]
    assert missing == [], f"{name}.__all__ names what it does not define"
    public = {
        n for n, v in vars(package).items()
        if not n.startswith("_") and not isinstance(v, types.ModuleType) and n != "annotations"
        and str(getattr(v, "__module__", name)).startswith(name)  # helpers from elsewhere are not its API
    }  # fmt: skip
    assert public - set(exported) == set(), f"{name} defines public names missing from __all__"


@pytest.mark.parametrize("name", _public_packages())
def test_an_exported_name_stays_itself_after_its_submodule_is_imported(name: str) -> None:
    """A package exporting a function named like its module (`llmbench.stats.diff`) must still give the function
    once something imported the submodule directly (importing a submodule sets its name on the package)."""
    package = importlib.import_module(name)
    for info in pkgutil.iter_modules(package.__path__, name + "."):
        importlib.import_module(info.name)
    shadowed = [n for n in package.__all__ if isinstance(getattr(package, n), types.ModuleType)]
    assert shadowed == [], f"{name}: {shadowed} became submodules"


def test_the_store_tables_are_the_row_types(tmp_path: Path) -> None:
    """The migrations build exactly the columns the row types declare (one source for every column)."""
    from llmbench.store import Store
    from llmbench.store.rows import TABLES

    with Store.open(tmp_path / "s.duckdb") as store:
        for table in TABLES.values():
            got = store.sql(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                [table.name],
            )["column_name"].tolist()
            assert sorted(got) == sorted(table.columns()), table.name
