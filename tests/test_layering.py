"""The import rules of STYLE.md, checked on the package's source with `ast`."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "citizen_graph"


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def test_httpx_is_imported_only_by_connectors() -> None:
    for path in PACKAGE.rglob("*.py"):
        if "connectors" not in path.parts:
            assert not any(n.split(".")[0] == "httpx" for n in imports(path)), path


def test_connectors_know_nothing_of_graphql_or_roles() -> None:
    banned = (
        "strawberry",
        "graphql",
        "citizen_graph.schema",
        "citizen_graph.resolvers",
    )
    for path in modules("connectors"):
        for name in imports(path):
            assert not name.startswith(banned), (path, name)
            assert not name.startswith("citizen_graph.auth"), (path, name)


def test_sandbox_imports_nothing_from_the_gateway() -> None:
    for path in modules("sandbox"):
        for name in imports(path):
            if name.startswith("citizen_graph"):
                assert name.startswith("citizen_graph.sandbox"), (path, name)


def test_resolvers_never_reach_connectors_except_through_loaders() -> None:
    for path in modules("resolvers"):
        if path.name != "loaders.py":
            assert not any("connectors" in n for n in imports(path)), path


def test_records_import_nothing_from_the_project() -> None:
    assert not any(
        n.startswith("citizen_graph") for n in imports(PACKAGE / "records.py")
    )


def test_every_module_opens_with_a_docstring() -> None:
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if path.name == "__init__.py" and not tree.body:
            continue
        assert ast.get_docstring(tree), path


def test_a_connectors_private_module_is_imported_only_inside_connectors() -> None:
    for path in PACKAGE.rglob("*.py"):
        if "connectors" not in path.parts:
            for name in imports(path):
                assert not name.startswith("citizen_graph.connectors._"), (path, name)


# Modules whose docstring is still over three lines: a ratchet, to shrink and never to grow.
LONG_DOCSTRINGS = frozenset(
    {
        "access.py",
        "app.py",
        "auth/admission.py",
        "auth/agents.py",
        "auth/audit.py",
        "auth/audit_chain.py",
        "auth/audit_records.py",
        "auth/credentials.py",
        "auth/decision.py",
        "auth/enforcement.py",
        "auth/habilitations.py",
        "auth/introspection.py",
        "auth/policy.py",
        "auth/quotas.py",
        "auth/recording.py",
        "auth/refusals.py",
        "cache.py",
        "connectors/__init__.py",
        "connectors/_client.py",
        "connectors/_resilience.py",
        "connectors/api_particulier.py",
        "connectors/ban.py",
        "connectors/dgfip.py",
        "connectors/upstream.py",
        "edge/__init__.py",
        "edge/authentication.py",
        "edge/methods.py",
        "edge/refusals.py",
        "edge/request_id.py",
        "edge/tracing.py",
        "errors.py",
        "ids.py",
        "metrics.py",
        "persisted.py",
        "records.py",
        "request_scope.py",
        "serving.py",
        "settings.py",
        "shared/__init__.py",
        "shared/codec.py",
        "shared/quotas.py",
        "telemetry.py",
        "tracing.py",
        "views.py",
        "workers.py",
    }
)


def test_every_module_starts_with_a_one_to_three_line_docstring() -> None:
    paths = {p.relative_to(PACKAGE).as_posix(): p for p in PACKAGE.rglob("*.py")}
    assert not LONG_DOCSTRINGS - paths.keys(), LONG_DOCSTRINGS - paths.keys()
    for name, path in sorted(paths.items()):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstring = ast.get_docstring(tree, clean=False)
        assert docstring, name
        lines = len(docstring.strip().splitlines())
        if name in LONG_DOCSTRINGS:
            assert lines > 3, (
                f"{name} is within 3 lines now: drop it from LONG_DOCSTRINGS"
            )
        else:
            assert lines <= 3, (
                f"{name}: {lines} docstring lines (STYLE.md allows 1 to 3)"
            )
