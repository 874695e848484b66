"""A real, throwaway PostgreSQL server for the tests: Debian's binaries (`apt-get install postgresql`,
which `make test` does as root), a data folder and unix socket in a temp folder, a free port on
127.0.0.1, trust authentication, stopped and deleted when the test session ends.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user the package
creates. Where no server can be started, tests that use the fixture are skipped with the reason.
Import the fixture into a test module: `from tests.postgres_server import postgres_server`.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from tests.conftest import free_port

SUPERUSER = "paperlens"
START_ATTEMPTS = 3  # another process may take the free port before the server binds it


class PostgresUnavailable(Exception):
    """Why no test server could be started."""


class PostgresServer:
    def __init__(self, bin_dir: Path, folder: Path, run_as: list[str]) -> None:
        self.bin_dir, self.folder, self.run_as = bin_dir, folder, run_as
        self.data = folder / "data"
        self.port = 0
        self._databases = itertools.count(1)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a fresh, empty database."""
        name = f"test_{next(self._databases)}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def initdb(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")

    def start(self) -> None:
        self.port = free_port()
        # fsync off: a throwaway cluster; the store's own durability is PostgreSQL's default commit
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w", "-t", "60",
                  "-o", options, "start")

    def restart(self) -> None:
        """Stops the server (dropping every connection) and starts it again on the same port."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-m", "fast", "-w", "restart")

    def stop(self) -> None:
        if self.port:
            subprocess.run([*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.data),
                            "-m", "fast", "-w", "stop"], capture_output=True, cwd=self.folder)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run([*self.run_as, str(self.bin_dir / program), *args], capture_output=True,
                              text=True, cwd=self.folder, timeout=120)
        if done.returncode != 0:
            log = self.folder / "server.log"
            detail = (done.stderr or done.stdout).strip() + ("\n" + log.read_text()[-2000:] if log.exists() else "")
            raise PostgresUnavailable(f"{program} failed: {detail}")


def start_postgres() -> PostgresServer:
    bin_dir = _bin_dir()
    run_as, owner = _run_as()
    folder = Path(tempfile.mkdtemp(prefix="paperlens-postgres-"))
    if owner is not None:
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    server = PostgresServer(bin_dir, folder, run_as)
    try:
        server.initdb()
        for attempt in range(START_ATTEMPTS):
            try:
                server.start()
                return server
            except PostgresUnavailable:
                if attempt == START_ATTEMPTS - 1:
                    raise
    except BaseException:
        server.port = 0
        server.stop()
        raise


def _bin_dir() -> Path:
    """The newest Debian server binaries, or an initdb on PATH."""
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                    key=lambda path: [int(part) for part in Path(path).parts[4].split(".")])
    initdb = debian[-1] if debian else shutil.which("initdb")
    if initdb is None:
        raise PostgresUnavailable("PostgreSQL is not installed "
                                  "(as root: apt-get install -y postgresql; `make test` does it)")
    return Path(initdb).parent


def _run_as() -> tuple[list[str], pwd.struct_passwd | None]:
    if os.geteuid() != 0:
        return [], None
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable("running as root and there is no `postgres` user to run PostgreSQL as") from None
    return ["runuser", "-u", "postgres", "--"], owner


_shared: dict[str, PostgresServer | str] = {}


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest) -> PostgresServer:
    """One server for the whole session, however many test modules import this fixture."""
    if not _shared:
        try:
            _shared["server"] = start_postgres()
            request.config.add_cleanup(_shared["server"].stop)
        except PostgresUnavailable as error:
            _shared["server"] = f"no PostgreSQL server for the tests: {error}"
    server = _shared["server"]
    if isinstance(server, str):
        pytest.skip(server)
    return server
