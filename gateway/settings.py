"""The gateway's settings, from `VIDP_GATEWAY_*` environment variables (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["GatewaySettings", "get_gateway_settings"]


class GatewaySettings(BaseSettings):
    """What `vidp gateway` needs besides vidp's own settings (`VIDP_CATALOG_URL`, `VIDP_OUTPUT`)."""

    model_config = SettingsConfigDict(env_prefix="VIDP_GATEWAY_", env_file=".env", extra="ignore")

    secret: SecretStr | None = Field(
        None,
        description="Shared secret of the webhooks' HMAC-SHA256 signatures; unset: webhooks "
        "answer 503.",
    )
    notify_token: SecretStr | None = Field(
        None,
        description="Bearer token /webhooks/s3 also accepts instead of a signature, for bucket "
        "notification senders that cannot sign (MinIO's auth_token, an EventBridge connection).",
    )
    replay_window_s: int = Field(
        300, ge=1, description="How old a signed webhook's timestamp may be, in seconds."
    )
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated API keys for /videos (header X-API-Key); none: 503.",
    )
    deployment: str = Field(
        "process-video/default", description="The deployment each video starts a run of."
    )
    uploads: str = Field(
        "vidp-uploads",
        description="Where POST /videos stores uploads: a folder, or s3://bucket/prefix.",
    )
    max_upload_bytes: int = Field(
        4 * 1024**3, ge=1, description="Larger uploads are refused with 413."
    )
    header_timeout_s: float = Field(
        10,
        gt=0,
        description="How long a request's headers may take to arrive before the connection is "
        "closed (slow clients, slowloris).",
    )
    max_starting: int = Field(
        16,
        ge=1,
        description="Requests that may start runs at once (each asks Prefect's API); more wait.",
    )
    start_wait_s: float = Field(
        5,
        gt=0,
        description="How long a request waits to start its run before it is answered 429 with "
        "Retry-After.",
    )
    catalog_connections: int = Field(
        10,
        ge=1,
        description="Connections the gateway keeps to the catalog's database for reads; more "
        "reads at once wait their turn, first come first served.",
    )
    run_sources: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["s3://"],
        description="Comma-separated prefixes a /webhooks/run source must start with (e.g. "
        "s3://uploads/,s3://media/incoming/); the default, s3://, is any bucket the workers can "
        "read. A local path is refused unless a prefix allows it: a signed request could "
        "otherwise have a worker process any video on its disks.",
    )

    @field_validator("api_keys", "run_sources", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        return (
            [k.strip() for k in value.split(",") if k.strip()] if isinstance(value, str) else value
        )

    def allows_run_source(self, source: str) -> bool:
        """Whether a /webhooks/run `source` is one of `run_sources` (no `..` ever is)."""
        if ".." in source.split("/") or "\x00" in source:
            return False
        return any(source.startswith(prefix) for prefix in self.run_sources)


@lru_cache
def get_gateway_settings() -> GatewaySettings:
    return GatewaySettings()
