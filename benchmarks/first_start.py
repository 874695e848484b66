"""First start to serving (issue #16): `make run` in a fresh copy of the repository, timed from the
command to the first 200 from /ready, with the install cached (the copy's `.venv` is this
checkout's, already built) and the encoder's export cache either empty (a new machine: OpenVINO's
model is exported first) or warm. Each run copies the working tree (tracked and untracked files that
git does not ignore, mtimes kept, so make sees the install as up to date) into a new folder.

    .venv/bin/python benchmarks/first_start.py [--runs 2] [--warm]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def fresh_copy(target: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(ROOT / ".venv")
    shared = ROOT.parent / "shared"
    if shared.exists():
        (target.parent / "shared").symlink_to(shared)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def first_start(cache: Path, timeout: float = 600) -> tuple[float, str]:
    """Seconds from `make run` to the first 200 from /ready, and the index command's summary line."""
    folder = Path(tempfile.mkdtemp(prefix="paperlens-first-start-")) / "main"
    folder.mkdir()
    fresh_copy(folder)
    port = free_port()
    log = folder.parent / "make-run.log"
    env = {**os.environ, "PAPERLENS_ENCODER_CACHE": str(cache)}
    started = time.perf_counter()
    with log.open("w") as output:
        process = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=folder, stdout=output,
                                   stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        while time.perf_counter() - started < timeout:
            if process.poll() is not None:
                raise RuntimeError(f"make run exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                    seconds = time.perf_counter() - started
                    line = next((text for text in log.read_text().splitlines() if text.startswith("indexed ")), "")
                    return seconds, line
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("make run did not serve in time")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait()
        shutil.rmtree(folder.parent, ignore_errors=True)


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from models.host import describe_host

    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--warm", action="store_true", help="keep one encoder cache for every run (the first fills it)")
    args = parser.parse_args()
    print(describe_host(), flush=True)
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    shared_cache = Path(tempfile.mkdtemp(prefix="paperlens-encoders-"))
    for run in range(args.runs):
        cache = shared_cache if args.warm else Path(tempfile.mkdtemp(prefix="paperlens-encoders-"))
        state = "warm" if args.warm and run else "empty"
        seconds, line = first_start(cache)
        print(f"run {run + 1}: encoder cache {state}: make run -> first 200 from /ready in {seconds:.1f} s\n  {line}",
              flush=True)


if __name__ == "__main__":
    main()
