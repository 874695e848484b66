"""Service settings: one typed object, read from PAPERLENS_* environment variables and CLI flags."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic import field_validator
from typing import Annotated


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAPERLENS_", extra="ignore")

    index_dir: Path = Field(Path("var/index"), description="index folder built by `paperlens index`")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    max_k: int = Field(100, ge=1, le=1000, description="largest k a list call accepts")
    users: str | None = Field(None, description="user store: a path, sqlite:///PATH or postgresql://... "
                              "(default: users.sqlite in the index folder)")
    query_cache_size: int = Field(4096, ge=0, description="query embeddings kept in memory")
    # Security
    admin_key: str | None = Field(None, description="key for write calls (POST/DELETE /papers, /admin/*): "
                                  "`Authorization: Bearer KEY`; unset: the server only listens on loopback")
    require_user_tokens: bool = Field(False, description="every /users/{user} call needs the user's own token")
    rate_limit: float = Field(0.0, ge=0, description="requests per second per key (or per client address); 0: no limit")
    rate_burst: int = Field(20, ge=1, description="requests a key may make at once before the rate applies")
    max_body_bytes: int = Field(10_000_000, ge=1024, description="largest request body (413 above)")
    max_batch: int = Field(1000, ge=1, description="most papers in one POST /papers (413 above)")
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list, description="origins allowed by CORS (comma-separated); none by default")
    # Operations
    compact_after: float = Field(0.2, gt=0, description="compact in the background once changed rows exceed this share of the index")
    refresh_seconds: float = Field(2.0, ge=0, description="how often to pick up changes made by other processes (0: only on reload)")
    log_format: str = Field("text", pattern="^(text|json)$", description="one log line per request: text or json")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value):
        return [origin.strip() for origin in value.split(",") if origin.strip()] if isinstance(value, str) else value
