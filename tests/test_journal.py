"""The journal never drops an acknowledged batch: checksummed lines, a damaged line that stops
loading instead of ending the journal, a torn last line cut only by the next append, and
`paperlens check [--repair]`; on real index folders, and with real `paperlens serve` processes."""

from __future__ import annotations

import json
import re
import shutil
import gc
import subprocess
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from indexer.build import build_index
from indexer import store
from indexer.errors import IndexChanged, IndexDamaged, IndexNotFound
from indexer.live import LiveIndex, Upsert, batch_record, compact, load_live, write_snapshot
from indexer.papers import Paper
from indexer.store import append_journal, check_index, encode_journal_line, live_generation, writer_lock
from tests.conftest import SEED_PAPERS, HashingEncoder, free_port, paperlens_command, start_server, stop_process

SEED = sum(1 for _ in SEED_PAPERS.open())
ADMIN_KEY = "journal-secret"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def paper(number: int) -> Paper:
    return Paper(id=f"j-{number}", title=f"Journal paper {number} on zorbulated lattices",
                 abstract=f"Zorbulation variant {number} predicts quasicrystal lattice defects.",
                 published="2026-11-01")


def upsert(number: int, encoder) -> Upsert:
    item = paper(number)
    text_vector, title_vector = encoder.embed([item.text(), item.title])
    return Upsert(item, text_vector, title_vector)


def write_batches(index: Path, encoder, numbers: list[int]) -> None:
    """One acknowledged batch (one journal line) per paper, as a server's POST /papers writes them."""
    live = LiveIndex(index)
    for number in numbers:
        live.apply(upserts=[upsert(number, encoder)])


def journal(index: Path) -> Path:
    return live_generation(index) / "journal.jsonl"


def line_starts(data: bytes) -> list[int]:
    return [0] + [i + 1 for i, byte in enumerate(data) if byte == ord("\n")][:-1]


def flip_a_title_byte(path: Path, number: int) -> tuple[bytes, int]:
    """Flips one bit in paper `number`'s title ('J' becomes 'j': the line still parses as JSON, only
    the checksum tells); returns the journal's bytes before and the damaged line's offset."""
    before = path.read_bytes()
    position = before.index(f"Journal paper {number} ".encode())
    damaged = bytearray(before)
    damaged[position] ^= 0x20
    path.write_bytes(bytes(damaged))
    return before, max(start for start in line_starts(before) if start <= position)


def paperlens(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*paperlens_command(), *map(str, args)], capture_output=True, text=True, timeout=300)


@pytest.fixture()
def hashing_index(tmp_path: Path) -> Path:
    folder = tmp_path / "index"
    build_index([str(SEED_PAPERS)], folder, HashingEncoder(), progress=False)
    return folder


@pytest.fixture()
def index_copy(seed_index: Path, tmp_path: Path) -> Path:
    """A copy of the index built with the real model (what a server can load)."""
    folder = tmp_path / "index"
    shutil.copytree(seed_index, folder, ignore=shutil.ignore_patterns("users.sqlite*"))
    return folder


def test_a_flipped_byte_in_a_middle_line_stops_loading_and_repair_keeps_the_batches_around_it(
        hashing_index: Path) -> None:
    write_batches(hashing_index, HashingEncoder(), [1, 2, 3])
    path = journal(hashing_index)
    _, offset = flip_a_title_byte(path, 2)
    damaged = path.read_bytes()
    with pytest.raises(IndexDamaged) as error:
        load_live(hashing_index)
    message = str(error.value)
    assert str(path) in message and "line 2 " in message and f"byte offset {offset}" in message
    assert f"paperlens check --index {hashing_index} --repair" in message
    with pytest.raises(IndexDamaged):  # a write is refused rather than appended after the damage
        LiveIndex(hashing_index)
    assert path.read_bytes() == damaged  # nothing cut, nothing overwritten

    checked = paperlens("check", "--index", hashing_index)
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert f"{path}: line 2 (byte offset {offset}): checksum mismatch" in checked.stdout
    assert path.read_bytes() == damaged

    repaired = paperlens("check", "--index", hashing_index, "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    aside = Path(re.search(r"in (\S+/journal\.damaged-\S+)", repaired.stdout).group(1))
    lines = damaged.splitlines(keepends=True)
    assert aside.read_bytes() == lines[1]  # the damaged bytes, as they were
    assert journal(hashing_index).read_bytes() == lines[0] + lines[2]
    assert "ok: " in repaired.stdout and "journal: 2 batches" in repaired.stdout
    index, _ = load_live(hashing_index)
    assert "j-1" in index and "j-3" in index and "j-2" not in index
    assert index.live_count == SEED + 2


def test_a_torn_last_line_is_ignored_on_load_and_cut_by_the_next_append(hashing_index: Path) -> None:
    write_batches(hashing_index, HashingEncoder(), [1, 2])
    path = journal(hashing_index)
    acknowledged = path.read_bytes()
    torn = encode_journal_line(batch_record([upsert(3, HashingEncoder())]))
    with path.open("ab") as out:  # a crash halfway through writing batch 3: never acknowledged
        out.write(torn[: len(torn) // 2])
    index, position = load_live(hashing_index)
    assert "j-1" in index and "j-2" in index and "j-3" not in index
    assert position.offset == len(acknowledged)
    assert check_index(hashing_index).healthy
    assert path.read_bytes() == acknowledged + torn[: len(torn) // 2]  # loading cuts nothing
    write_batches(hashing_index, HashingEncoder(), [4])
    data = path.read_bytes()
    assert data.startswith(acknowledged) and len(data.splitlines()) == 3 and data.endswith(b"\n")
    index, _ = load_live(hashing_index)
    assert {"j-1", "j-2", "j-4"} <= set(index.live_ids()) and "j-3" not in index


def test_an_overwritten_last_newline_is_damage_not_a_torn_line(hashing_index: Path) -> None:
    write_batches(hashing_index, HashingEncoder(), [1, 2])
    path = journal(hashing_index)
    data = bytearray(path.read_bytes())
    first_line_end = data.index(b"\n") + 1
    data[-1] = ord("x")  # the line is whole, only its newline changed: batch 2 was acknowledged
    path.write_bytes(bytes(data))
    with pytest.raises(IndexDamaged, match="line 2 .*newline"):
        load_live(hashing_index)
    with pytest.raises(IndexDamaged):
        append_journal(live_generation(hashing_index), batch_record(deletes=["j-1"]), first_line_end)
    assert path.read_bytes() == bytes(data)


def test_an_append_never_cuts_a_complete_line(hashing_index: Path) -> None:
    write_batches(hashing_index, HashingEncoder(), [1, 2])
    path = journal(hashing_index)
    data = path.read_bytes()
    with pytest.raises(IndexDamaged, match="refusing to cut"):
        append_journal(live_generation(hashing_index), batch_record(deletes=["j-1"]), data.index(b"\n") + 1)
    with pytest.raises(IndexDamaged, match="cut it"):
        append_journal(live_generation(hashing_index), batch_record(deletes=["j-1"]), len(data) + 10)
    assert path.read_bytes() == data


def test_journals_written_before_checksums_are_still_read(hashing_index: Path) -> None:
    generation = live_generation(hashing_index)
    old_lines = [json.dumps(batch_record([upsert(n, HashingEncoder())]), separators=(",", ":")) + "\n" for n in (1, 2)]
    (generation / "journal.jsonl").write_text("".join(old_lines))
    write_batches(hashing_index, HashingEncoder(), [3])  # appended with a checksum after the old lines
    index, _ = load_live(hashing_index)
    assert {"j-1", "j-2", "j-3"} <= set(index.live_ids())
    assert check_index(hashing_index).healthy
    (generation / "journal.jsonl").write_text(old_lines[0] + old_lines[1][:40] + "\n" + old_lines[1])
    with pytest.raises(IndexDamaged, match="line 2 "):
        load_live(hashing_index)


def test_a_compaction_never_carries_past_a_damaged_line(hashing_index: Path) -> None:
    write_batches(hashing_index, HashingEncoder(), [1])
    index, position = load_live(hashing_index)  # what a compaction starting now reads
    write_batches(hashing_index, HashingEncoder(), [2, 3])  # acknowledged meanwhile
    flip_a_title_byte(journal(hashing_index), 2)
    damaged = journal(hashing_index).read_bytes()
    generation = live_generation(hashing_index)
    with pytest.raises(IndexDamaged, match="line 2 "):
        write_snapshot(hashing_index, index, np.asarray(sorted(index.live_ids().values())), position)
    assert live_generation(hashing_index) == generation and journal(hashing_index).read_bytes() == damaged


def test_a_compaction_over_a_generation_another_build_replaced_says_so_and_writes_nothing(
        hashing_index: Path) -> None:
    index, position = load_live(hashing_index)  # what a compaction starting now reads
    compact(hashing_index)  # another one finishes first
    generation = live_generation(hashing_index)
    with pytest.raises(IndexChanged, match="replaced by another build") as refused:
        write_snapshot(hashing_index, index, np.asarray(sorted(index.live_ids().values())), position)
    assert not isinstance(refused.value, IndexNotFound)
    assert live_generation(hashing_index) == generation
    assert [p.name for p in hashing_index.iterdir() if p.name.startswith(("gen-", ".tmp-"))] == [generation.name]


def test_the_writer_lock_excludes_other_threads_and_goes_with_its_last_holder(tmp_path: Path) -> None:
    key = str(tmp_path.resolve())
    holding, release, order = threading.Event(), threading.Event(), []

    def first() -> None:
        with writer_lock(tmp_path):
            holding.set()
            release.wait(10)
            order.append("first")

    def second() -> None:
        with writer_lock(tmp_path):
            order.append("second")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert holding.wait(10)
    threads[1].start()
    time.sleep(0.2)
    assert order == [] and key in store._THREAD_LOCKS  # the second waits on the lock the first holds
    release.set()
    for thread in threads:
        thread.join(10)
    assert order == ["first", "second"]
    gc.collect()
    assert key not in store._THREAD_LOCKS  # no lock outlives its last user
    with writer_lock(tmp_path):
        assert key in store._THREAD_LOCKS


@pytest.mark.parametrize("damage, named", [
    (lambda g: (g / "vectors.npy").unlink(), "vectors.npy: missing"),
    (lambda g: (g / "papers.jsonl").write_text((g / "papers.jsonl").read_text() + '{"id": "extra", "title": "x"}\n'),
     f"papers.jsonl: {SEED + 1} papers, the manifest counts {SEED}"),
    (lambda g: (g / "dense.faiss").write_bytes((g / "dense.faiss").read_bytes()[:100]), "dense.faiss: cannot be read"),
    (lambda g: np.save(g / "title-vectors.npy", np.zeros((SEED, 3), np.float32)),
     "title-vectors.npy: float32 array of shape"),
    (lambda g: (g / "lexical.json").write_text("{"), "lexical.json: cannot be read"),
    (lambda g: (g / "manifest.json").write_text("[]"), "manifest.json: cannot be read"),
])
def test_check_names_each_damaged_file(hashing_index: Path, damage, named: str) -> None:
    assert check_index(hashing_index).healthy
    damage(live_generation(hashing_index))
    report = check_index(hashing_index)
    assert not report.healthy
    assert any(named in problem for problem in report.problems), report.problems


def test_check_without_an_index_says_so(tmp_path: Path) -> None:
    result = paperlens("check", "--index", tmp_path / "nothing")
    assert result.returncode == 2 and "CURRENT: missing" in result.stdout


def start_unready_server(index: Path) -> tuple[subprocess.Popen, str, str]:
    """A real `paperlens serve` over an index it cannot load, returned once /ready answers 503 with
    the load error (its detail returned); it must never answer 200 meanwhile."""
    port = free_port()
    log_path = index.parent / f"server-{port}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([*paperlens_command(), "serve", "--index", str(index), "--port", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT, text=True)
    process.log_path = log_path
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text()}")
        try:
            answer = httpx.get(f"{base}/ready", timeout=2)
        except httpx.TransportError:
            time.sleep(0.3)
            continue
        assert answer.status_code == 503, answer.text
        if answer.json()["detail"].startswith("index not available"):
            return process, base, answer.json()["detail"]
        time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"server did not report its load error in 240 s: {log_path.read_text()[-3000:]}")


def test_a_server_restarted_over_a_damaged_journal_serves_nothing_until_repaired(index_copy: Path, encoder) -> None:
    write_batches(index_copy, encoder, [1, 2, 3])
    path = journal(index_copy)
    _, offset = flip_a_title_byte(path, 2)
    damaged = path.read_bytes()
    process, base, detail = start_unready_server(index_copy)
    try:
        assert "line 2 " in detail and f"byte offset {offset}" in detail and "--repair" in detail
        assert httpx.get(f"{base}/search", params={"q": "zorbulated lattices"}, timeout=10).status_code == 503
        assert httpx.get(f"{base}/papers/j-1", timeout=10).status_code == 503  # no partial index either
    finally:
        stop_process(process)
    assert "cannot load index" in process.log_path.read_text() and "line 2 " in process.log_path.read_text()
    assert path.read_bytes() == damaged

    repaired = paperlens("check", "--index", index_copy, "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    process, base = start_server(index_copy)
    try:
        assert httpx.get(f"{base}/health", timeout=10).json()["papers"] == SEED + 2
        statuses = {n: httpx.get(f"{base}/papers/j-{n}", timeout=10).status_code for n in (1, 2, 3)}
        assert statuses == {1: 200, 2: 404, 3: 200}
    finally:
        stop_process(process)


def wait_until(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


def test_a_server_over_a_torn_line_keeps_every_batch_and_rides_out_damage_appearing_while_it_serves(
        index_copy: Path, encoder) -> None:
    write_batches(index_copy, encoder, [1, 2])
    path = journal(index_copy)
    torn = encode_journal_line(batch_record([upsert(3, encoder)]))
    with path.open("ab") as out:
        out.write(torn[: len(torn) // 2])
    acknowledged = path.read_bytes()[: -(len(torn) // 2)]
    process, base = start_server(index_copy,
                                 env={"PAPERLENS_ADMIN_KEY": ADMIN_KEY, "PAPERLENS_REFRESH_SECONDS": "0.5"})
    try:
        with httpx.Client(base_url=base, headers=ADMIN, timeout=60) as http:
            def status(number: int) -> int:
                return http.get(f"/papers/j-{number}").status_code

            assert (status(1), status(2), status(3)) == (200, 200, 404)
            assert http.post("/papers", json=[paper(4).to_dict()]).status_code == 200
            data = path.read_bytes()
            assert data.startswith(acknowledged) and len(data.splitlines()) == 3  # the torn bytes cut, nothing else

            # Another writer's batch 5 is damaged on disk, batch 6 after it is fine.
            bad = bytearray(encode_journal_line(batch_record([upsert(5, encoder)])))
            bad[bad.index(b"Journal paper 5")] ^= 0x20
            with path.open("ab") as out:
                out.write(bytes(bad) + encode_journal_line(batch_record([upsert(6, encoder)])))
            damaged = path.read_bytes()
            wait_until(lambda: "reload failed, still serving the previous index" in process.log_path.read_text())
            assert http.get("/health").json()["papers"] == SEED + 3  # the last good snapshot
            assert http.get("/search", params={"q": "zorbulated lattices"}).status_code == 200
            assert (status(5), status(6)) == (404, 404)
            refused = http.post("/papers", json=[paper(7).to_dict()])  # not appended after damage
            assert refused.status_code == 503 and "needs repair" in refused.json()["detail"], refused.text
            assert path.read_bytes() == damaged

            repaired = paperlens("check", "--index", index_copy, "--repair")
            assert repaired.returncode == 0, repaired.stdout + repaired.stderr
            wait_until(lambda: status(6) == 200)  # the refresh loads the repaired generation
            assert [status(n) for n in range(1, 8)] == [200, 200, 404, 200, 404, 200, 404]
    finally:
        stop_process(process)
