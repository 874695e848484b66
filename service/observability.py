"""Metrics in Prometheus format and one log line per request."""

from __future__ import annotations

import json
import logging
import time
from typing import TextIO

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("paperlens.access")

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The app's own registry (several apps in one process keep separate counts)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("paperlens_requests_total", "Requests answered, by route, method and status",
                                ("route", "method", "status"), registry=self.registry)
        self.latency = Histogram("paperlens_request_seconds", "Time to answer, by route and method",
                                 ("route", "method"), buckets=_BUCKETS, registry=self.registry)
        self.papers = Gauge("paperlens_index_papers", "Papers in the served index", registry=self.registry)
        self.pending = Gauge("paperlens_index_pending_changes",
                             "Rows added or dead since the index was built (compaction folds them in)",
                             registry=self.registry)
        self.loaded = Gauge("paperlens_index_loaded_timestamp_seconds",
                            "When the served generation was loaded (Unix time)", registry=self.registry)
        self.model = Gauge("paperlens_model_info", "The embedding model (value 1)", ("model", "dim"),
                           registry=self.registry)
        self.compactions = Gauge("paperlens_compactions", "Compactions done since start", registry=self.registry)

    def render(self, served) -> bytes:
        if served is not None:
            index = served.current().index
            self.papers.set(index.live_count)
            self.model.labels(index.manifest.model, str(index.manifest.dim)).set(1)
            if served.live is not None:
                self.pending.set(served.live.pending())
                self.loaded.set(served.live.loaded_at)
        return generate_latest(self.registry)


class RequestObserver:
    """ASGI middleware: counts and times every request by its route template (not the raw path,
    so ids do not explode the label space) and logs one line per request."""

    def __init__(self, app: ASGIApp, metrics: Metrics, json_lines: bool = False) -> None:
        self.app, self.metrics, self.json_lines = app, metrics, json_lines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(seconds)
            self._log(scope, route, status, seconds)

    def _log(self, scope: Scope, route: str, status: int, seconds: float) -> None:
        if not access_log.isEnabledFor(logging.INFO):
            return
        client = (scope.get("client") or ("-",))[0]
        record = {"method": scope.get("method"), "path": scope.get("path"), "route": route, "status": status,
                  "ms": round(seconds * 1000, 2), "client": client}
        if self.json_lines:  # json.dumps escapes every control and non-ASCII character: one line each
            access_log.info(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **record}))
        else:
            # Path, method and client come from the request: escaped, so that none can end the line
            # (a %0D%0A in the path) or shift the space-separated fields (a %20).
            fields = (log_safe(str(record[name]), also=" \\") for name in ("client", "method", "path"))
            access_log.info("%s %s %s %d %.1fms", *fields, status, record["ms"])


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def log_safe(text: str, also: str = "") -> str:
    """`text` with every character that is not printable (controls, line and paragraph separators,
    format characters), and those in `also`, written as a backslash escape."""
    return "".join(_escape(char) if char in also or not char.isprintable() else char for char in text)


def _escape(char: str) -> str:
    code = ord(char)
    if char in _ESCAPES:
        return _ESCAPES[char]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


class OneLineFormatter(logging.Formatter):
    """Log records whose message holds request text (an error naming a path) stay one line each;
    a traceback, added after the message, keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = log_safe(record.message)
        return super().formatMessage(record)


def log_to(stream: TextIO) -> None:
    """INFO and above, one message a line, on `stream` (the server's stderr)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OneLineFormatter("%(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
