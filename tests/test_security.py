"""What a hostile local client tried against `paperlens serve` (issue 12, findings 6, 9, 10, 11):
rate-limit buckets it could pick, a start-up that locks every user out, claiming someone's library,
forged log lines and DNS rebinding. Real servers on loopback where the server's setup decides
(uvicorn's proxy headers, the start-up checks); the in-process app for the routes' rules."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.served import ServedIndex
from service.settings import Settings, served_hosts
from tests.conftest import paperlens_command, start_server, stop_process

ADMIN_KEY = "security-secret"
BURST = 5
# A bucket refills one request per 1000 s: within a test, only the burst ever gets through.
LIMITED = {"PAPERLENS_RATE_LIMIT": "0.001", "PAPERLENS_RATE_BURST": str(BURST), "PAPERLENS_REFRESH_SECONDS": "0"}
# The settings under test, set explicitly so that the caller's environment changes nothing.
CLEAN = {"PAPERLENS_ADMIN_KEY": "", "PAPERLENS_TRUSTED_PROXIES": "", "PAPERLENS_ALLOWED_HOSTS": "",
         "PAPERLENS_REQUIRE_USER_TOKENS": "false", "PAPERLENS_LOG_FORMAT": "text"}
SEARCH = "/search?q=privacy&mode=keyword"


@pytest.fixture(scope="module")
def index_copy(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("security") / "index"
    shutil.copytree(seed_index, folder, ignore=shutil.ignore_patterns("users.sqlite*"))
    return folder


@pytest.fixture(scope="module")
def open_server(index_copy: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """No admin key (loopback only), rate-limited, no trusted proxy: the default a user runs."""
    process, base = start_server(index_copy, env={**CLEAN, **LIMITED})
    yield base, process
    stop_process(process)


@pytest.fixture(scope="module")
def keyed_server(index_copy: Path) -> Iterator[str]:
    """An admin key, rate-limited, and one trusted proxy: 127.0.0.2."""
    env = {**CLEAN, **LIMITED, "PAPERLENS_ADMIN_KEY": ADMIN_KEY, "PAPERLENS_TRUSTED_PROXIES": "127.0.0.2"}
    process, base = start_server(index_copy, env=env)
    yield base
    stop_process(process)


def from_address(base: str, address: str) -> httpx.Client:
    """A client connecting from `address` (any 127.x.y.z is this machine): its own client address."""
    return httpx.Client(base_url=base, timeout=30, transport=httpx.HTTPTransport(local_address=address))


def statuses(http: httpx.Client, path: str, headers: list[dict[str, str]], method: str = "GET") -> list[int]:
    return [http.request(method, path, headers=each).status_code for each in headers]


# Finding 6: the rate limit's buckets


def test_junk_bearer_values_share_the_senders_bucket(open_server) -> None:
    base, _ = open_server
    junk = [{"Authorization": f"Bearer junk-{i}"} for i in range(30)]
    with from_address(base, "127.0.0.11") as http:
        with_junk = statuses(http, SEARCH, junk)
    with from_address(base, "127.0.0.12") as http:
        without = statuses(http, SEARCH, [{}] * 30)
    assert with_junk == without == [200] * BURST + [429] * (30 - BURST)
    with from_address(base, "127.0.0.13") as http:  # guessing admin keys, the same
        guesses = statuses(http, "/admin/reload", junk, method="POST")
    assert guesses[BURST:] == [429] * (30 - BURST) and 429 not in guesses[:BURST]


def test_forwarded_for_from_loopback_does_not_choose_the_bucket(open_server) -> None:
    base, _ = open_server
    forged = [{"X-Forwarded-For": f"198.51.100.{i}"} for i in range(30)]
    # From 127.0.0.1 itself: the address uvicorn trusts by default (the only test here using it).
    with from_address(base, "127.0.0.1") as http:
        assert statuses(http, SEARCH, forged) == [200] * BURST + [429] * (30 - BURST)


def test_a_trusted_proxy_names_the_client_and_no_one_else_does(keyed_server: str) -> None:
    forwarded = [{"X-Forwarded-For": f"198.51.100.{i}"} for i in range(3 * BURST)]
    with from_address(keyed_server, "127.0.0.2") as proxy:
        assert statuses(proxy, SEARCH, forwarded) == [200] * (3 * BURST)  # each client its own bucket
        one_client = statuses(proxy, SEARCH, [{"X-Forwarded-For": "203.0.113.7"}] * (BURST + 1))
        assert one_client == [200] * BURST + [429]  # ...which holds for that client
    with from_address(keyed_server, "127.0.0.3") as not_a_proxy:
        assert statuses(not_a_proxy, SEARCH, forwarded)[BURST:] == [429] * (2 * BURST)


def test_the_admin_key_has_its_own_bucket(keyed_server: str) -> None:
    with from_address(keyed_server, "127.0.0.4") as http:
        statuses(http, SEARCH, [{"Authorization": f"Bearer guess-{i}"} for i in range(BURST)])
        assert http.get(SEARCH, headers={"Authorization": "Bearer guess-more"}).status_code == 429
        assert http.get(SEARCH).status_code == 429
        assert http.get(SEARCH, headers={"Authorization": f"Bearer {ADMIN_KEY}"}).status_code == 200


# Finding 9: tokens without an admin key


def run_serve(index: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([*paperlens_command(), "serve", "--index", str(index), "--port", "1"], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **CLEAN, **env})


def test_required_user_tokens_without_an_admin_key_refuse_to_start(index_copy: Path) -> None:
    result = run_serve(index_copy, {"PAPERLENS_REQUIRE_USER_TOKENS": "true"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "PAPERLENS_REQUIRE_USER_TOKENS" in lines[0] and "PAPERLENS_ADMIN_KEY" in lines[0], lines


def test_a_bad_trusted_proxy_refuses_to_start_naming_it(index_copy: Path) -> None:
    result = run_serve(index_copy, {"PAPERLENS_TRUSTED_PROXIES": "10.0.0.0/8,proxy.example"})
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "PAPERLENS_TRUSTED_PROXIES" in result.stderr and "proxy.example" in result.stderr


@pytest.fixture()
def users_app(tmp_path: Path, engine: ServedIndex):
    def make(**settings) -> TestClient:
        users = str(tmp_path / "users.sqlite")
        return TestClient(create_app(Settings(index_dir=tmp_path, users=users, refresh_seconds=0, **settings),
                                     served=engine))
    return make


def test_without_an_admin_key_no_one_claims_an_existing_library(users_app, engine: ServedIndex) -> None:
    paper = engine.index.papers[0].id
    with users_app() as client:
        assert client.put(f"/users/ada/likes/{paper}").status_code == 200
        claim = client.post("/users/ada/token")
        assert claim.status_code == 403 and "PAPERLENS_ADMIN_KEY" in claim.json()["detail"]
        assert client.get("/users/ada").json()["likes"] == [paper]  # still ada's, no token needed
        token = client.post("/users/newcomer/token").json()["token"]  # a new name may be claimed
        assert client.get("/users/newcomer").status_code == 401
        assert client.get("/users/newcomer", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with users_app(admin_key=ADMIN_KEY) as client:  # the admin may give ada her first token
        issued = client.post("/users/ada/token", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        assert issued.status_code == 200
        hers = {"Authorization": f"Bearer {issued.json()['token']}"}
        assert client.get("/users/ada", headers=hers).json()["likes"] == [paper]


# Finding 10: log forging


def log_lines(process: subprocess.Popen, marker: str) -> list[str]:
    """The server's log lines holding `marker`, once one has been written."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [line for line in process.log_path.read_text().splitlines() if marker in line]
        if lines:
            return lines
        time.sleep(0.1)
    return []


def test_a_path_cannot_write_a_fake_log_line(open_server) -> None:
    base, process = open_server
    with from_address(base, "127.0.0.15") as http:
        assert http.get("/x%0D%0Aforged%20200%09ok").status_code == 404
    lines = log_lines(process, "forged")
    assert lines == ["127.0.0.15 GET /x\\r\\nforged\\x20200\\tok 404 " + lines[0].rsplit(" ", 1)[-1]], lines


def test_json_log_lines_hold_the_path_as_sent(users_app, caplog: pytest.LogCaptureFixture) -> None:
    with users_app(log_format="json") as client, caplog.at_level(logging.INFO, logger="paperlens.access"):
        client.get("/x%0D%0Aforged%20200")
    [message] = [record.getMessage() for record in caplog.records if "forged" in record.getMessage()]
    assert "\n" not in message and "\r" not in message
    assert json.loads(message)["path"] == "/x\r\nforged 200"


# Finding 11: the Host header (DNS rebinding)


def test_only_loopback_names_reach_a_server_without_a_key(open_server) -> None:
    base, _ = open_server
    port = base.rsplit(":", 1)[1]
    with from_address(base, "127.0.0.16") as http:
        refused = http.get(SEARCH, headers={"Host": "evil.example"})
        assert refused.status_code == 400
        assert "evil.example" in refused.json()["detail"] and "PAPERLENS_ALLOWED_HOSTS" in refused.json()["detail"]
        assert http.get(SEARCH, headers={"Host": f"evil.example:{port}"}).status_code == 400
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
            assert http.get(SEARCH, headers={"Host": host}).status_code == 200, host
        assert http.get("/ready", headers={"Host": "10.9.8.7"}).status_code == 200  # probes by IP stay open


def test_a_keyed_server_on_loopback_checks_the_host_too(keyed_server: str) -> None:
    with from_address(keyed_server, "127.0.0.5") as http:
        assert http.get(SEARCH, headers={"Host": "evil.example"}).status_code == 400


def test_allowed_hosts_when_configured(users_app) -> None:
    with users_app(allowed_hosts=["papers.example.org", "*.lab.example"]) as client:
        for host, status in (("papers.example.org", 200), ("PAPERS.example.org:8443", 200), ("a.lab.example", 200),
                             ("lab.example", 400), ("127.0.0.1", 400), ("evil.example", 400)):
            assert client.get("/users/x", headers={"Host": host}).status_code == status, host
    with users_app(allowed_hosts=["*"]) as client:
        assert client.get("/users/x", headers={"Host": "anything.example"}).status_code == 200


def test_the_default_hosts_follow_the_listening_address() -> None:
    loopback = ["127.0.0.1", "localhost", "::1"]
    assert served_hosts(None, "127.0.0.1") == served_hosts(None, "0.0.0.0") == loopback
    assert served_hosts(None, "10.1.2.3") == [*loopback, "10.1.2.3"]
    assert served_hosts(["papers.example.org"], "0.0.0.0") == ["papers.example.org"]
