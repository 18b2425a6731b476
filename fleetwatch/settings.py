"""Settings, read from the environment (prefix FLEETWATCH_, plus REDIS_URL) by the composition
root only. Nothing connects at import time."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "fleetwatch-development-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLEETWATCH_", extra="ignore")

    # Event store and read models: "sqlite" (embedded default) or "dynamodb".
    store: Literal["sqlite", "dynamodb"] = "sqlite"
    sqlite_path: Path = Path(".fleetwatch/fleetwatch.sqlite3")
    dynamodb_endpoint_url: str | None = None
    dynamodb_region: str = Field(
        default="us-east-1",
        validation_alias=AliasChoices("FLEETWATCH_DYNAMODB_REGION", "AWS_REGION"),
    )
    dynamodb_table_prefix: str = "fleetwatch_"
    create_tables: bool = True

    # Fan-out of change notifications to subscriptions: in-process unless REDIS_URL is set.
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("FLEETWATCH_REDIS_URL", "REDIS_URL")
    )

    # Projection workers run inside `serve` unless disabled (e.g. several API processes).
    run_projections: bool = True

    # Authentication: HS256 with a development secret, or RS256 through a JWKS URL (Cognito).
    jwt_secret: str = DEV_JWT_SECRET
    jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    tenant_claim: str = "tenant_id"
    roles_claim: str = "roles"

    host: str = "127.0.0.1"
    port: int = 8000
