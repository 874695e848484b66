"""Shared fixtures: the real default model, and a real index built from real papers of the seed page."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from indexer.build import build_index
from models import Encoder, encoder_settings, load_encoder
from models.host import describe_host, this_host
from service.app import create_app
from service.served import ServedIndex
from service.settings import Settings

DATA = Path(__file__).parent / "data"
SEED_PAPERS = DATA / "seed-papers.jsonl"


class HashingEncoder(Encoder):
    """A deterministic bag-of-words encoder for tests that need exact numbers and no model."""

    model_id = "test-hashing"
    dim = 64

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        out[:, 0] += 1e-3  # no all-zero vector for an empty text
        return out


def pytest_sessionstart(session: pytest.Session) -> None:
    """The host class first: the numerics (bf16 or fp32) and every figure depend on it."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    line = f"{describe_host()}; encoder by default: {_default_numerics()}"
    if reporter is not None:
        reporter.write_line(line)
    else:
        print(line)


def _default_numerics() -> str:
    from models import resolve_model_path
    from models.loading import choose_runtime

    settings = encoder_settings()
    runtime = choose_runtime(resolve_model_path(None)[1], settings.runtime)
    bf16 = this_host().fast_bf16 if settings.bf16 is None else settings.bf16
    return f"{runtime}, {'bfloat16' if bf16 else 'float32'}{' autocast' if bf16 and runtime == 'torch' else ''}"


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    """The default model with this host's default numerics (bf16 autocast where the CPU has the units),
    or those PAPERLENS_BF16 sets for the run."""
    return load_encoder(bf16=encoder_settings().bf16)


@pytest.fixture(scope="session", params=[False, True], ids=["fp32", "bf16"])
def forced_encoder(request: pytest.FixtureRequest) -> Encoder:
    """The default model on torch with each CPU numerics forced, so both paths are tested on every
    host (bf16 is emulated, and slow, where the CPU lacks the units)."""
    return load_encoder(bf16=request.param, runtime="torch")


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> Path:
    folder = tmp_path_factory.mktemp("seed") / "index"
    build_index([str(SEED_PAPERS)], folder, encoder, progress=False)
    return folder


@pytest.fixture(scope="session")
def engine(seed_index: Path) -> ServedIndex:
    return ServedIndex.load(seed_index)


@pytest.fixture(scope="session")
def client(seed_index: Path, engine: ServedIndex):
    with TestClient(create_app(Settings(index_dir=seed_index), served=engine)) as test_client:
        yield test_client


def id_of(engine: ServedIndex, title_start: str) -> str:
    """The id of the one paper whose title starts with `title_start`."""
    matches = [p.id for p in engine.index.papers if p.title.startswith(title_start)]
    assert len(matches) == 1, f"{title_start!r} matches {matches}"
    return matches[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def paperlens_command() -> list[str]:
    script = Path(sys.executable).with_name("paperlens")
    return [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]


def start_server(index: Path, port: int | None = None, env: dict[str, str] | None = None,
                 args: Sequence[str] = (), command: Sequence[str] | None = None,
                 cwd: Path | None = None) -> tuple[subprocess.Popen, str]:
    """A real `paperlens serve` process on loopback, returned once /ready answers 200. Its output
    goes to a log file beside the index (`process.log_path`), so a busy server never blocks on a pipe.
    `command` is another installation's `paperlens` (the wheel test's)."""
    port = port or free_port()
    log_path = Path(index).parent / f"server-{port}.log"
    log = log_path.open("w")
    process = subprocess.Popen([*(command or paperlens_command()), "serve", "--index", str(index), "--port", str(port),
                                *args], stdout=log, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, **(env or {})}, cwd=cwd)
    process.log_path = log_path
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240  # the model loads in seconds; a machine busy with other work may take longer
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text()}")
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"server did not become ready in 240 s: {log_path.read_text()[-3000:]}")


def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM, and SIGKILL if the process has not ended within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def server(seed_index: Path):
    process, base = start_server(seed_index)
    yield base
    process.terminate()
    process.wait(timeout=20)
