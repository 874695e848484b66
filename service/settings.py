"""Service settings: one typed object, read from PAPERLENS_* environment variables and CLI flags."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from indexer.errors import PaperlensError
from models import EncoderSettings


class BadSettings(PaperlensError):
    """A PAPERLENS_* variable (or the flag setting it) is invalid; the message names each one."""


class Settings(EncoderSettings):
    """Everything `paperlens serve` and the app read, once: PAPERLENS_* variables, then CLI flags.
    Inherits the encoder's (PAPERLENS_BF16, PAPERLENS_RUNTIME, PAPERLENS_ENCODER_CACHE)."""

    model_config = SettingsConfigDict(env_prefix="PAPERLENS_", extra="ignore")

    index_dir: Path = Field(Path("var/index"), description="index folder built by `paperlens index`")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    users: str | None = Field(None, description="user store: a path, sqlite:///PATH or postgresql://... "
                              "(default: users.sqlite in the index folder)")
    replicas: int = Field(1, ge=1, description="Ray Serve replicas (`paperlens serve --ray`)")
    query_cache_size: int = Field(4096, ge=0, description="query embeddings kept in memory")
    # Security
    admin_key: str | None = Field(None, description="key for write calls (POST/DELETE /papers, /admin/*): "
                                  "`Authorization: Bearer KEY`; unset: the server only listens on loopback")
    require_user_tokens: bool = Field(False, description="every /users/{user} call needs the user's own token "
                                      "(needs an admin key: only the admin issues first tokens)")
    rate_limit: float = Field(0.0, ge=0, description="requests per second per client address (the admin key has "
                              "its own bucket); 0: no limit")
    rate_burst: int = Field(20, ge=1, description="requests a key may make at once before the rate applies")
    max_body_bytes: int = Field(10_000_000, ge=1024, description="largest request body (413 above)")
    max_batch: int = Field(1000, ge=1, description="most papers in one POST /papers (413 above)")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="origins allowed by CORS (comma-separated); none by default")
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="proxy addresses or networks (comma-separated IPs/CIDRs) whose "
        "X-Forwarded-For names the client; none by default: the connecting address is the client")
    allowed_hosts: Annotated[list[str] | None, NoDecode] = Field(
        None, description="Host header names answered (comma-separated; `*` any, `*.example.org` a domain); "
        "unset: `paperlens serve` answers the loopback names and its own --host address")
    # IndexWriter
    compact_after: float = Field(0.2, gt=0, description="compact in the background once changed rows exceed "
                                 "this share of the index")
    refresh_seconds: float = Field(2.0, ge=0, description="how often to pick up changes made by other processes "
                                   "(0: only on reload)")
    log_format: str = Field("text", pattern="^(text|json)$", description="one log line per request: text or json")

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value):
        return _split(value) if isinstance(value, str) else value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _host_names(cls, value):
        # An empty PAPERLENS_ALLOWED_HOSTS means unset (the default), never "answer no host at all".
        names = _split(value) if isinstance(value, str) else value
        return names or None

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network (CIDR)") from None
        return value

    @model_validator(mode="after")
    def _tokens_need_a_key(self) -> Settings:
        # Only the admin issues a user's first token: without a key no user could ever be reached.
        if self.require_user_tokens and not self.admin_key:
            raise ValueError("PAPERLENS_REQUIRE_USER_TOKENS=true needs PAPERLENS_ADMIN_KEY: only the admin can "
                             "issue a user's first token, so without a key no user could ever get one")
        return self


def load_settings(**values) -> Settings:
    """Settings from the environment and `values`; a bad one raises BadSettings naming each problem
    in one line (for the CLI's one-line errors) rather than pydantic's multi-line report."""
    try:
        return Settings(**values)
    except ValidationError as error:
        raise BadSettings("bad settings: " + "; ".join(_problem(item) for item in error.errors())) from None


def _problem(item: dict) -> str:
    message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
    field = "_".join(str(part) for part in item.get("loc", ()) if isinstance(part, str))
    return f"PAPERLENS_{field.upper()}: {message}" if field else message


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
WILDCARD_ADDRESSES = ("0.0.0.0", "::", "")


def served_hosts(allowed: list[str] | None, listen_host: str) -> list[str]:
    """The Host names `paperlens serve` answers: PAPERLENS_ALLOWED_HOSTS when set, else the
    loopback names and the address it listens on (unless that is every address, 0.0.0.0 or ::,
    whose names it cannot know). A browser always sends the name in its address bar, so a page whose
    name was rebound to this server's address (DNS rebinding) is refused."""
    if allowed:
        return allowed
    if listen_host in LOOPBACK_HOSTS or listen_host in WILDCARD_ADDRESSES:
        return list(LOOPBACK_HOSTS)
    return [*LOOPBACK_HOSTS, listen_host]
