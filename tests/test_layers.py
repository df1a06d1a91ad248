"""The packages of app/ import one another in one direction only (docs/architecture.md).

`app.core` imports no domain; a domain imports `app.core` and the domains below it, never one
above it or beside it, so that no two domains import each other in a cycle; and what sits
above every domain (erasure, the maintenance jobs, the CLI, the app factory) imports any.
A domain uses another's services and models, never its routes. A cycle means a shared type
belongs in app/core/ (STYLE.md).
"""

import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"

# The domains, lowest first; a domain imports only those on an earlier line.
LAYERS = [
    {"ops", "settings"},
    {"auth"},
    {"contacts", "events"},
    {"interactions", "ledger", "reminders", "relationships"},
    {"introductions"},
    {"network"},
    {"agenda", "portability"},
    {"calendar"},
]
RANK = {domain: rank for rank, layer in enumerate(LAYERS) for domain in layer}
# Modules of app/ itself, above every domain.
TOP = {"cli", "erasure", "main", "maintenance", "models"}
# Imports against the layers, each with its reason.
EXCEPTIONS = {
    ("app/contacts/routes.py", "app.erasure"): (
        "erasing is `DELETE /v1/contacts/{id}?erase=true`, one operation with archiving, and "
        "erasure sits above the domains because it reaches into all of them"
    ),
}


def _package(path: Path) -> str:
    """`core`, a domain, or a module of app/ itself, for a file under app/."""
    parts = path.relative_to(APP).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def _imports(path: Path) -> list[tuple[str, int]]:
    """The `app.…` modules that `path` imports, anywhere in it, with the line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "app":  # from app import models
                found += [(f"app.{alias.name}", node.lineno) for alias in node.names]
            else:
                found.append((node.module, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
    return [(module, line) for module, line in found if module.startswith("app.")]


def _edges() -> list[tuple[str, str, str, str]]:
    """(importing package, imported package, imported module, where) for every import of one
    package of app/ by another."""
    edges = []
    for path in sorted(APP.rglob("*.py")):
        source = _package(path)
        for module, line in _imports(path):
            target = module.split(".")[1]
            if target != source:
                where = f"{path.relative_to(APP.parent)}:{line}"
                edges.append((source, target, module, where))
    return edges


def _allowed(source: str, target: str) -> bool:
    if source in TOP:
        return True
    if source == "core":
        return False
    return target == "core" or (target in RANK and RANK[target] < RANK[source])


def test_every_package_of_app_has_a_place() -> None:
    packages = {_package(path) for path in APP.rglob("*.py")} - {"__init__"}
    unplaced = packages - set(RANK) - TOP - {"core"}
    assert unplaced == set(), f"add {sorted(unplaced)} to LAYERS (or TOP) in this file"


def test_imports_go_down_the_layers_only() -> None:
    offenders = [
        f"{where}: {source} imports {module}"
        for source, target, module, where in _edges()
        if not _allowed(source, target) and (where.split(":")[0], module) not in EXCEPTIONS
    ]
    assert offenders == [], (
        "an import against the layers (a shared type belongs in app/core/):\n"
        + "\n".join(offenders)
    )


def test_no_domain_imports_another_domains_routes() -> None:
    offenders = [
        f"{where}: {source} imports {module}"
        for source, target, module, where in _edges()
        if source in RANK and module.split(".")[2:3] == ["routes"]
    ]
    assert offenders == []


def test_the_layer_check_sees_a_cycle() -> None:
    """The check itself: either direction between two domains of one layer is refused, and of
    two domains on different layers only the downward import is allowed."""
    assert not _allowed("contacts", "events") and not _allowed("events", "contacts")
    assert _allowed("ledger", "contacts") and not _allowed("contacts", "ledger")
    assert not _allowed("core", "auth") and _allowed("erasure", "ledger")
