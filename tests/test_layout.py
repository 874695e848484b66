"""The house's rules, checked on the source: layers, no import circle, an opening comment per module,
no environment reads in library code, and caches that do not outlive their index snapshot."""

from __future__ import annotations

import ast
import gc
import weakref
from pathlib import Path

import pytest

from tests.conftest import SEED_PAPERS, HashingEncoder

ROOT = Path(__file__).parents[1]
PACKAGES = ("models", "indexer", "service")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """The project modules `path` imports (`from a.b import c` counts a.b.c when that is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name in MODULES}


def test_layers_point_one_way_models_indexer_service() -> None:
    allowed = {"models": {"models"}, "indexer": {"models", "indexer"}, "service": set(PACKAGES)}
    wrong = [f"{module} imports {target}" for module, path in MODULES.items()
             for target in _imports(path, top_level_only=False)
             if target.split(".")[0] not in allowed[module.split(".")[0]]]
    assert wrong == []


def test_no_import_circle() -> None:
    graph = {module: _imports(path, top_level_only=True) - {module} for module, path in MODULES.items()}
    circles, state = [], {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                circles.append(trail[trail.index(target):] + [target] if target in trail else [module, target])
            elif target not in state:
                visit(target, trail + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_backends_import_only_the_interface() -> None:
    for backend in ("models.torch_encoder", "models.openvino_encoder", "models.onnx_encoder", "models.export"):
        assert _imports(MODULES[backend], top_level_only=False) == {"models.base"}, backend
    for store in ("service.users.sqlite", "service.users.postgres"):
        assert _imports(MODULES[store], top_level_only=False) == {"service.users.store"}, store


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_says_what_it_owns(module: str) -> None:
    assert ast.get_docstring(ast.parse(MODULES[module].read_text(encoding="utf-8"))), module


def test_library_code_reads_no_environment_variable() -> None:
    """Settings are read once, typed (service/settings.py, models/loading.py); only `paperlens serve`
    sets OMP_NUM_THREADS for the torch it imports later."""
    edges = {"service.cli.querying"}
    readers = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            reads = isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv")
            if reads and module not in edges:
                readers.append(f"{module}:{node.lineno}")
    assert readers == []


def test_import_lookups_die_with_their_snapshot(tmp_path: Path) -> None:
    """A library import builds a lookup over the snapshot it matched against; once the server moves on
    to a newer snapshot, nothing of the old one may stay alive through that cache."""
    from indexer.build import build_index
    from indexer.paper_index import PaperIndex
    from service.library import match_identifiers

    build_index([str(SEED_PAPERS)], tmp_path / "index", HashingEncoder(), progress=False)
    index = PaperIndex.load(tmp_path / "index")
    first = index.papers[0].id
    assert match_identifiers(index, [first, "arXiv:9999.99999"]).matched == [first]
    alive = weakref.ref(index)
    del index
    gc.collect()
    assert alive() is None
