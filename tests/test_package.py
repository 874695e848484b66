"""The wheel: what `pip install .`, pipx or a Docker image gets must index and serve on its own.

The wheel is built from a copy of the sources and installed into a fresh virtual environment
outside the checkout. That environment borrows this one's installed dependencies through a path
file (installing torch and the rest again would take minutes) but not the editable paperlens: a
plain path line does not run the editable install's finder, so every paperlens module it imports
comes from the wheel, or the test fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx
import pytest

from service import __version__
from tests.conftest import SEED_PAPERS, start_server, stop_process

ROOT = Path(__file__).parents[1]


def _run(command: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    assert result.returncode == 0, f"{command}: {result.stdout[-2000:]}{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a fresh virtual environment with only the wheel of paperlens installed."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("models", "indexer", "service"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    _run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q",
          "-w", str(work / "dist")], cwd=work)
    wheel = next((work / "dist").glob("paperlens-*.whl"))
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=work)
    target = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (target / "borrowed-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps",
          "--no-index", "-q", str(wheel)], cwd=work)
    return venv / "bin"


def test_the_wheel_holds_every_module_and_the_page(installed: Path, tmp_path: Path) -> None:
    where = _run([str(installed / "python"), "-c", "import json, service.routes.users, service.app, models, indexer;"
                  "import service; from pathlib import Path;"
                  "print(json.dumps([m.__file__ for m in (service, service.routes.users, models, indexer)]))"],
                 cwd=tmp_path)
    for module_file in json.loads(where.stdout):
        assert str(installed.parent) in module_file and str(ROOT) not in module_file, module_file
    version = _run([str(installed / "paperlens"), "--version"], cwd=tmp_path)
    assert version.stdout.strip() == f"paperlens {__version__}"


def test_the_installed_command_indexes_and_serves(installed: Path, tmp_path: Path) -> None:
    records = [json.loads(line) for line in SEED_PAPERS.read_text(encoding="utf-8").splitlines()[:8]]
    source = tmp_path / "papers.jsonl"
    source.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    built = _run([str(installed / "paperlens"), "index", str(source), "--index", str(tmp_path / "index"),
                  "--no-progress"], cwd=tmp_path)
    assert "indexed 8 papers" in built.stdout
    process, base = start_server(tmp_path / "index", command=[str(installed / "paperlens")], cwd=tmp_path)
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            health = http.get("/health").json()
            assert (health["status"], health["papers"]) == ("ok", 8)
            found = http.get("/search", params={"q": records[3]["title"], "k": 3}).json()["results"]
            assert found[0]["id"] == records[3]["id"]
            page = http.get("/")
            assert page.status_code == 200 and "paperlens" in page.text
            for asset in _assets(page.text):  # the page's own script and styles are in the wheel too
                assert http.get(asset).status_code == 200, asset
    finally:
        stop_process(process)


def _assets(html: str) -> list[str]:
    import re

    scripts = re.findall(r'<script[^>]*\ssrc="(/[^"]+)"', html)
    styles = re.findall(r'<link[^>]*\shref="(/[^"]+)"', html)
    return scripts + styles
