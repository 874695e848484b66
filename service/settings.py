"""Service settings: one typed object, read from PAPERLENS_* environment variables and CLI flags."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAPERLENS_", extra="ignore")

    index_dir: Path = Field(Path("var/index"), description="index folder built by `paperlens index`")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    max_k: int = Field(100, ge=1, le=1000, description="largest k a list call accepts")
    users: str | None = Field(None, description="user store: sqlite:///PATH or a path (default: users.sqlite in the index folder)")
    query_cache_size: int = Field(4096, ge=0, description="query embeddings kept in memory")
