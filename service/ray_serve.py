"""`paperlens serve --ray`: the same FastAPI app as Ray Serve replicas behind Ray's HTTP proxy.

Each replica loads the index folder itself (memory-mapped) before it takes requests, and keeps
it current the way one server does: every PAPERLENS_REFRESH_SECONDS it picks up what other
processes (the other replicas, a `paperlens index` or `delete`) changed in the folder. So the
folder must be at the same path on every node that runs a replica (a shared filesystem), and
users shared by all replicas need `--users postgresql://...` (or a SQLite file on that folder,
on a single machine).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

from indexer.distributed import ClusterError, connect
from service.app import create_app
from service.served import ServedIndex
from service.settings import Settings

try:
    from ray import serve
    from ray.exceptions import RayError
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ClusterError("--ray needs Ray: pip install 'ray[data,serve]>=2.40'") from error

APP_NAME = "paperlens"


@serve.deployment(name="paperlens", ray_actor_options={"num_cpus": 1})
@serve.ingress()
class PaperlensReplica:
    """One replica: the whole app over the index folder."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def __serve_build_asgi_app__(self):
        # Loaded before the app exists, so a replica counts as started only once it can answer
        # (the proxy never routes to a replica that would say 503 "index is loading").
        settings = self._settings
        served = await asyncio.to_thread(ServedIndex.load, settings.index_dir, settings.query_cache_size,
                                         encoder_settings=settings)
        return create_app(self._settings, served=served)


def serve_on_cluster(settings: Settings, address: str, replicas: int) -> None:
    """Deploys `replicas` replicas on the Ray cluster at `address`, listening on settings.host and
    settings.port (on every node that runs one), and keeps them until this process is stopped."""
    connect(address)
    settings = _portable(settings)
    serve.start(http_options={"host": settings.host, "port": settings.port})
    try:
        _deploy(settings, replicas)
        print(f"paperlens: {replicas} replica{'s' if replicas != 1 else ''} ready on the Ray cluster at {address}",
              file=sys.stderr, flush=True)
        _wait_until_stopped()
    finally:
        _undeploy()


def _deploy(settings: Settings, replicas: int) -> None:
    """Returns once every replica has loaded the index and answers."""
    try:
        serve.run(PaperlensReplica.options(num_replicas=replicas).bind(settings), name=APP_NAME, route_prefix="/")
    except (RayError, RuntimeError) as error:
        cause = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ClusterError(f"deploying {replicas} replicas on the cluster failed: {cause}") from error


def _portable(settings: Settings) -> Settings:
    """The settings with paths every replica reads the same, whatever its working directory."""
    update = {"index_dir": Path(settings.index_dir).resolve()}
    users = settings.users
    if users and "://" not in users:
        update["users"] = str(Path(users).resolve())
    elif users and users.startswith("sqlite:///"):
        update["users"] = "sqlite:///" + str(Path(users.removeprefix("sqlite:///")).resolve())
    return settings.model_copy(update=update)


def _wait_until_stopped() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so the finally clause undeploys
    # The replicas reload by themselves (the folder's journal, every PAPERLENS_REFRESH_SECONDS):
    # SIGHUP, a reload for one server, must not take them down without undeploying.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    while True:
        time.sleep(3600)


def _undeploy() -> None:
    """Removes this app; Serve itself (and its HTTP port) goes too unless another app runs."""
    serve.delete(APP_NAME)
    if not serve.status().applications:
        serve.shutdown()
