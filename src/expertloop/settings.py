"""One settings object for the whole application, read from ``EXPERTLOOP_*`` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_SECRET_KEY", "MIN_PRODUCTION_SECRET_BYTES", "Settings"]

DEFAULT_SECRET_KEY = "development-only-secret-change-me"
MIN_PRODUCTION_SECRET_BYTES = 32


class Settings(BaseSettings):
    """Configuration of one expertloop process.

    Every field can be set by an environment variable named ``EXPERTLOOP_`` plus the field
    name in capitals, e.g. ``EXPERTLOOP_DATABASE_URL``.
    """

    model_config = SettingsConfigDict(env_prefix="EXPERTLOOP_", extra="ignore")

    environment: Literal["development", "production"] = Field(
        "development",
        description="`production` refuses to start with the default secret key, a secret key "
        "shorter than 32 bytes, or `serve --demo`, and warns when demo accounts exist.",
    )
    data_dir: Path = Field(
        Path("./expertloop-data"), description="Where the SQLite database and files live."
    )
    database_url: str = Field(
        "",
        description="SQLAlchemy URL; empty means a SQLite file `expertloop.db` in the data "
        "directory. PostgreSQL: `postgresql+psycopg://user:password@host:5432/dbname`.",
    )
    secret_key: str = Field(
        DEFAULT_SECRET_KEY,
        description="Signs CSRF tokens and keys the worker pseudonyms in exports (changing it "
        "changes them). At least 32 random bytes in production, e.g. "
        "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`.",
    )
    db_pool_size: int = Field(
        32,
        ge=1,
        description="Database connections per server process and pool (the annotator loop "
        "has one, everything else another; connections open as requests need them). Loop "
        "requests beyond it queue in the process, which adds latency under load: size it to "
        "the concurrent experts one process serves.",
    )
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        "NORMAL",
        description="SQLite `synchronous` pragma in WAL mode. NORMAL survives a process crash "
        "(a killed server loses nothing acknowledged); FULL also survives power loss.",
    )
    lease_sweep_seconds: float = Field(
        5.0, gt=0, description="How often expired leases are returned to the pool."
    )
    pay_sweep_seconds: float = Field(
        10.0, gt=0, description="How often accepted work is credited in the pay ledger."
    )
    pay_minimum_hourly: str = Field(
        "",
        description="The deployment's minimum effective hourly rate, e.g. 'USD 1200' (minor "
        "units an hour): managers are warned about workers and projects paid below it.",
    )
    job_workers: int = Field(
        1,
        ge=0,
        description="Job worker threads each server process runs (0: none; run "
        "`expertloop worker` processes instead).",
    )
    job_kinds: str = Field(
        "",
        description="Comma-separated job kinds this process's job workers run (empty: all), "
        "e.g. to keep exports on dedicated `expertloop worker` hosts.",
    )
    job_poll_seconds: float = Field(
        1.0, gt=0, description="How often an idle job worker looks for due jobs."
    )
    job_lease_seconds: float = Field(
        60.0,
        gt=0,
        description="How long a job stays with its worker without a heartbeat (workers "
        "heartbeat every third of it); a killed worker's job is run again after it.",
    )
    job_retry_seconds: float = Field(
        10.0,
        gt=0,
        description="Delay before a failed job's second attempt; it doubles with each "
        "further attempt (at most an hour).",
    )
    job_retention_days: float = Field(
        7.0,
        gt=0,
        description="Finished jobs (except exports) are deleted this many days after they "
        "finished.",
    )
    export_job_threshold_items: int = Field(
        100_000,
        ge=0,
        description="Projects with more answered items than this export only as jobs "
        "(`POST .../exports`); the streaming export route answers 409 for them.",
    )
    consensus_refresh_seconds: float = Field(
        10.0,
        gt=0,
        description="How often projects are checked for answers or review decisions newer "
        "than their consensus snapshot (a refresh job is queued for those).",
    )
    consensus_inline_max_items: int = Field(
        20_000,
        ge=0,
        description="A project with at most this many answered items whose consensus "
        "snapshot is missing or stale is refitted when its consensus is asked for; a larger "
        "one is served from its snapshot while a refresh job runs.",
    )
    auth_cache_seconds: float = Field(
        5.0,
        ge=0,
        description="How long a process trusts what it verified about a caller (their API "
        "token; that they may take items from a project) before asking the database again "
        "(0 disables the cache). A token revoked, a user suspended or a member removed "
        "through one process is refused by that process at once, by the others within "
        "this time.",
    )
    token_lifetime_days: float = Field(
        30.0, gt=0, description="How long an API token from `POST /api/v1/auth/token` works."
    )
    signin_max_failures_per_username: int = Field(
        10,
        ge=1,
        description="Failed sign-ins for one username within the window after which further "
        "attempts get 429 with `Retry-After` (API and web form).",
    )
    signin_max_failures_per_address: int = Field(
        50,
        ge=1,
        description="Failed sign-ins from one client address within the window after which "
        "further attempts from it get 429.",
    )
    signin_window_seconds: float = Field(
        900.0, gt=0, description="The sliding window over which failed sign-ins are counted."
    )
    max_import_bytes: int = Field(
        256 * 1024 * 1024, gt=0, description="Largest accepted item-import request body."
    )
    import_job_threshold_bytes: int = Field(
        4 * 1024 * 1024,
        ge=0,
        description="An item file uploaded on the console's import page that is larger than "
        "this is validated and stored by a background job (with progress) instead of within "
        "the request.",
    )
    import_job_threshold_rows: int = Field(
        5000,
        ge=0,
        description="An item file uploaded on the console's import page with more records "
        "than this is imported by a background job, like a large one.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @model_validator(mode="after")
    def _refuse_weak_secret_in_production(self) -> Settings:
        if self.environment != "production":
            return self
        if self.secret_key == DEFAULT_SECRET_KEY:
            raise ValueError(
                "EXPERTLOOP_SECRET_KEY must be set to a random value when "
                "EXPERTLOOP_ENVIRONMENT=production"
            )
        if len(self.secret_key.encode()) < MIN_PRODUCTION_SECRET_BYTES:
            raise ValueError(
                f"EXPERTLOOP_SECRET_KEY must be at least {MIN_PRODUCTION_SECRET_BYTES} bytes "
                "when EXPERTLOOP_ENVIRONMENT=production (it keys the worker pseudonyms "
                "in exports, so a short key lets anyone reverse them)"
            )
        return self

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def resolved_database_url(self) -> str:
        """The database URL to connect to, defaulting to SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'expertloop.db').resolve()}"
