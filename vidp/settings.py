"""Machine-level settings, read from `VIDP_*` environment variables (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """Defaults that depend on the machine rather than on one video.

    Every field is also an environment variable: `work_dir` is `VIDP_WORK_DIR`. The per-video
    options (`vidp.options.ProcessOptions`) are parameters and read none.
    """

    model_config = SettingsConfigDict(env_prefix="VIDP_", env_file=".env", extra="ignore")

    output: str = Field("vidp-output", description="Where results are published.")
    work_dir: Path = Field(
        Path.home() / ".cache" / "vidp" / "work",
        description="Per-video working files; they back Prefect's task cache.",
    )
    work_store: str = Field(
        "",
        description="Object storage (s3://bucket/prefix, or gs://, az:// with their fsspec "
        "package) where work files are shared between machines, so cached "
        "results made on one worker serve every other; empty keeps them on each machine.",
    )
    catalog_url: str = Field(
        f"sqlite:///{Path.home() / '.cache' / 'vidp' / 'catalog.db'}",
        description="The video catalog's database (SQLAlchemy URL): the SQLite file by default, "
        "or postgresql://user:password@host/db.",
    )
    models_dir: Path = Field(
        Path.home() / ".cache" / "vidp" / "models",
        description="Where model files assembled from installed packages are kept.",
    )
    detector_weights: str = Field(
        "yolo11n.pt",
        description="Ultralytics YOLO weights for runs whose options name none: a name "
        "(downloaded on first use) or a path, such as a local file on an offline worker.",
    )
    whisper_model: str = Field(
        "base",
        description="faster-whisper model for runs whose options name none: a size name, a hub "
        "id or a local directory.",
    )
    speechbrain_model: str = Field(
        "speechbrain/lang-id-voxlingua107-ecapa",
        description="VoxLingua107 language-ID model for the speechbrain backend (hub id or path).",
    )
    s3_credentials_block: str | None = Field(
        None,
        description="Prefect block for S3 credentials, e.g. 'minio-credentials/vidp'; "
        "unset means the AWS SDK's own chain.",
    )
    s3_timeout_s: float = Field(
        60,
        gt=0,
        description="An S3 connection that connects or sends nothing for this long is dropped "
        "and the request retried (botocore's connect and read timeouts).",
    )
    presign_expiry_s: int = Field(
        7 * 24 * 3600,
        ge=1,
        le=7 * 24 * 3600,
        description="Lifetime of presigned links (S3 allows 7 days).",
    )
    model_limit: str = Field(
        "",
        description="Prefect global concurrency limit whose slot each model task holds while it "
        "runs (`vidp pools` sets one per pool in the pool's job env); empty: no limit.",
    )
    gpu_deployment: str | None = Field(
        None,
        description="Deployment that runs the model work (e.g. 'analyze-gpu/default' on a GPU "
        "pool); unset runs everything in-process.",
    )
    segment_deployment: str = Field(
        "process-segment/default",
        description="Deployment that runs one segment of a long video (see the segment_s "
        "option); empty: never spread a video over workers.",
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where models run.")
    max_duration_s: float = Field(4 * 3600, gt=0, description="Longer videos are rejected.")
    ffmpeg_timeout_s: float = Field(
        3600, gt=0, description="Wall-clock limit for any single ffmpeg call."
    )
    step_timeout_s: float = Field(
        3 * 3600,
        gt=0,
        description="Longest one step (task) of a run may take: Prefect's task timeout. A step "
        "past it fails the run, and the ffmpeg it was waiting for is killed.",
    )
    detect_batch_size: int = Field(16, ge=1, le=256, description="Frames per detector batch.")
    encoder: Literal["auto", "libx264", "h264_nvenc"] = Field(
        "auto",
        description="H.264 encoder: auto takes NVENC where this machine's GPU has one (L4, T4), "
        "else x264.",
    )
    encode_passes: Literal["auto", "one", "two"] = Field(
        "auto",
        description="Burn subtitles in the one decode of the source that makes every output "
        "(least CPU; it waits for the transcript), or in a second decode beside it (the "
        "renditions do not wait); auto: two when a GPU makes the transcript.",
    )

    @field_validator("work_store")
    @classmethod
    def _object_storage_or_empty(cls, value: str) -> str:
        from vidp import storage

        try:  # a folder of this machine would share nothing: the work folder is here already
            shared = not value or storage.at(value).local_path(value) is None
        except storage.UnsupportedStorage:
            shared = False
        if not shared:
            raise ValueError(
                f"VIDP_WORK_STORE must be object storage (s3://bucket/prefix) or empty, not {value!r}"
            )
        return value.rstrip("/")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
