"""The manifest: what one processed video produced, checked against the shared contract."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from functools import lru_cache
from importlib.resources import files
from pathlib import PurePosixPath
from typing import Any, Literal

import jsonschema
from pydantic import BaseModel

from vidp.detect import AnimalSummary
from vidp.ingest import StagedVideo
from vidp.probe import MediaInfo
from vidp.speech import LanguageResult
from vidp.workfiles import WorkFile

__all__ = [
    "SCHEMA_VERSION",
    "manifest_schema",
    "manifest_uri",
    "validate_manifest",
    "now_iso",
    "RenditionFile",
    "FinalFile",
    "Results",
    "build_manifest",
]

SCHEMA_VERSION = "1"


@lru_cache
def manifest_schema() -> dict[str, Any]:
    """`shared/contracts/manifest.schema.json`, shipped inside the package (a test keeps them equal)."""
    return json.loads(files("vidp").joinpath("schemas/manifest.schema.json").read_text())


def validate_manifest(manifest: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError when `manifest` breaks the contract."""
    jsonschema.validate(manifest, manifest_schema(), format_checker=jsonschema.FormatChecker())


def manifest_uri(manifest: dict[str, Any]) -> str:
    """Where `manifest` itself was published: beside its final video."""
    return manifest["final_video"]["uri"].rsplit("/", 1)[0] + "/manifest.json"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class RenditionFile(BaseModel):
    label: str
    file: WorkFile
    width: int
    height: int
    encoder: str  # the H.264 encoder that made it: libx264 or h264_nvenc


class FinalFile(RenditionFile):
    subtitles: Literal["burned", "soft", "none"]


class Results(BaseModel):
    """Everything a run produced, as work files: what `publish` turns into the manifest."""

    source: StagedVideo
    media: MediaInfo
    language: LanguageResult
    animals: list[AnimalSummary]
    animal_images: dict[str, WorkFile]  # label -> its best detection
    transcript: WorkFile | None
    segments: int
    words: int
    srt: WorkFile | None
    vtt: WorkFile | None
    renditions: list[RenditionFile]
    final: FinalFile
    thumbnails: list[WorkFile]
    parameters: dict[str, Any]

    def files(self) -> dict[str, WorkFile]:
        """Published key -> work file, for every output."""
        out: dict[str, WorkFile] = {"final.mp4": self.final.file}
        out |= {f"renditions/{r.label}.mp4": r.file for r in self.renditions}
        out |= {f"thumbnails/{PurePosixPath(f.name).name}": f for f in self.thumbnails}
        out |= {f"animals/{label}.jpg": f for label, f in self.animal_images.items()}
        for key, file in (
            ("transcript.json", self.transcript),
            ("subtitles.srt", self.srt),
            ("subtitles.vtt", self.vtt),
        ):
            if file is not None:
                out[key] = file
        return out


def build_manifest(
    results: Results, uris: dict[str, str], links: dict[str, str], timings_s: dict[str, float]
) -> dict[str, Any]:
    """The manifest for `results` once their files are at `uris`, with shareable `links` where the
    storage has them (both keyed like `Results.files`)."""
    from vidp import __version__

    r = results

    def video(label: str, key: str, f: RenditionFile) -> dict[str, Any]:
        return {
            "label": label,
            "uri": uris[key],
            "width": f.width,
            "height": f.height,
            "size_bytes": f.file.local().stat().st_size,
            "encoder": f.encoder,
        }

    manifest = {
        "schema_version": SCHEMA_VERSION,
        "video_id": r.source.ref.video_id,
        "status": "completed",
        "source": {
            "uri": r.source.uri,
            "filename": r.source.filename,
            "size_bytes": r.source.size_bytes,
            "sha256": r.source.ref.sha256,
        },
        "media": r.media.model_dump(exclude={"format_name"}),
        "language": r.language.model_dump(),
        "animals": [
            a.model_dump() | {"thumbnail": uris.get(f"animals/{a.label}.jpg")} for a in r.animals
        ],
        "transcript": {
            "segments": r.segments,
            "words": r.words,
            "uri": uris.get("transcript.json"),
        },
        "subtitles": {"srt": uris.get("subtitles.srt"), "vtt": uris.get("subtitles.vtt")},
        "renditions": [video(x.label, f"renditions/{x.label}.mp4", x) for x in r.renditions],
        "final_video": video(r.final.label, "final.mp4", r.final)
        | {"subtitles": r.final.subtitles},
        "thumbnails": [uris[f"thumbnails/{PurePosixPath(f.name).name}"] for f in r.thumbnails],
        "timings_s": {k: round(v, 3) for k, v in timings_s.items()},
        "parameters": r.parameters,
        "pipeline_version": __version__,
        "created_at": now_iso(),
    }
    if links:
        manifest["links"] = links
    validate_manifest(manifest)
    return manifest
