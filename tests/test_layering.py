"""The layers keep their arrows pointing one way, and modules stay small (the tree is the architecture).

Every module of the distribution is parsed (not imported) and its imports, wherever they are (functions and
TYPE_CHECKING blocks included), checked against the rules below. bench/ and tests/ are not part of the
distribution and are left out.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LAYERS = ("actors", "config", "messages", "simulator", "supervisors", "possync")
MAX_LINES = 400
IB_CLIENTS = ("ib_insync", "ib_async", "ibapi")


def _modules() -> Iterator[tuple[str, Path]]:
    """(dotted name as installed, path) of every module of the distribution."""
    for layer in LAYERS:
        for path in sorted((REPO / layer).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            parts = parts[1:] if layer == "possync" else parts
            yield ".".join(("possync", *parts)).removesuffix(".__init__"), path


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, absolute (relative imports resolved against its package)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = dict(_modules())


def _violations(rule: str, importer_prefix: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{name} imports {target} ({rule})"
        for name, path in MODULES.items()
        if name == importer_prefix or name.startswith(importer_prefix + ".")
        for target in sorted(_imports(path))
        if any(target == f or target.startswith(f + ".") for f in forbidden)
    ]


@pytest.mark.parametrize(
    ("layer", "forbidden", "rule"),
    [
        (
            "possync.supervisors",
            ("possync.actors", "possync.config", "possync.messages", "possync.simulator", "possync._service"),
            "the supervision library stands alone",
        ),
        (
            "possync.messages",
            ("possync.actors", "possync.config", "possync.simulator"),
            "messages are below actors",
        ),
        (
            "possync.config",
            ("possync.actors", "possync.messages", "possync.simulator"),
            "config is below actors",
        ),
        (
            "possync.simulator",
            ("possync.actors", "possync.messages", "possync.config"),
            "the simulator is independent",
        ),
        (
            "possync.actors.gateway",
            tuple(
                f"possync.actors.{p}" for p in ("streaming", "polling", "registry", "lake", "service", "tree")
            ),
            "the gateway hands ticks to its own TickSink protocol, nothing above it",
        ),
    ],
)
def test_no_upward_import(layer: str, forbidden: tuple[str, ...], rule: str) -> None:
    assert _violations(rule, layer, forbidden) == []


def test_only_the_gateway_package_imports_an_ib_client() -> None:
    outside = {name: path for name, path in MODULES.items() if not name.startswith("possync.actors.gateway")}
    found = [
        f"{name} imports {target}"
        for name, path in outside.items()
        for target in _imports(path)
        if target.split(".")[0] in IB_CLIENTS
    ]
    assert found == []


def test_no_module_imports_a_private_module_of_another_package() -> None:
    found = []
    for name, path in MODULES.items():
        package = name.rpartition(".")[0] if path.name != "__init__.py" else name
        for target in _imports(path):
            head, _, last = target.rpartition(".")
            if target in MODULES and last.startswith("_") and head != package and not last.startswith("__"):
                found.append(f"{name} imports {target}, private to {head}")
    assert found == []


def test_no_module_is_over_the_size_limit() -> None:
    long = {
        name: lines
        for name, path in MODULES.items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"over {MAX_LINES} lines (a module that long has two jobs): {long}"


def test_the_rules_see_the_whole_distribution() -> None:
    assert {"possync.actors.gateway._session", "possync.supervisors.tree", "possync.cli"} <= MODULES.keys()
