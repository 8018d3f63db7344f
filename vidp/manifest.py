"""The manifest: what one processed video produced, as one typed document.

`Manifest` is the published contract itself: `manifest.json` is its JSON, and its JSON Schema
(`manifest_schema()`, or `python -m vidp.manifest`) is generated from it. The team's shared
contract is kept satisfied by tests/domain/test_manifest.py.

Its parts are models of their own rather than the pipeline's (`MediaInfo`, `LanguageResult`, ...):
they carry the contract's limits and descriptions, and a change to the pipeline's models cannot
change the published document unnoticed.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any, Final, Literal

import jsonschema
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    field_serializer,
)

from vidp.detect import AnimalSummary
from vidp.ingest import StagedVideo
from vidp.languages import LanguageStretch, Span
from vidp.outputs import FinalSubtitles
from vidp.probe import MediaInfo
from vidp.speech import LanguageResult
from vidp.workfiles import WorkFile

__all__ = [
    "SCHEMA_VERSION",
    "Animal",
    "FinalFile",
    "FinalVideo",
    "Language",
    "LanguageSpan",
    "Manifest",
    "Media",
    "RenditionFile",
    "Results",
    "Source",
    "SpeechSpan",
    "Subtitles",
    "Timings",
    "Transcript",
    "VideoFile",
    "VideoSegment",
    "build_manifest",
    "manifest_schema",
    "validate_manifest",
]

SCHEMA_VERSION: Final = "1"


class _Part(BaseModel):
    """A published document does not change: a different one is built instead."""

    model_config = ConfigDict(frozen=True)


class Source(_Part):
    """The video as it was given."""

    uri: str = Field(description="Where it was read: s3://bucket/key or an absolute path.")
    filename: str = Field(description="Its file name, as the user named it.")
    size_bytes: int = Field(ge=1)
    sha256: str = Field(pattern="^[0-9a-f]{64}$", description="SHA-256 of its bytes.")


class Media(_Part):
    """The source's streams, as probed."""

    duration_s: float = Field(gt=0)
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    fps: float = Field(gt=0)
    video_codec: str
    has_audio: bool
    audio_codec: str | None = Field(description="null without an audio stream.")


class Language(_Part):
    """Spoken language. code is null when the video has no audio or no speech."""

    code: str | None = Field(description="ISO 639-1 where one exists.")
    probability: float | None = Field(
        ge=0, le=1, description="How sure the identification is; null when forced or none."
    )
    method: str = Field(description="whisper, speechbrain, forced, or none (no speech).")


class LanguageSpan(_Part):
    """A stretch of speech in one language, from its first word to its last."""

    start_s: float = Field(ge=0)
    end_s: float = Field(ge=0)
    code: str = Field(description="ISO 639-1 where one exists.")
    probability: float | None = Field(
        ge=0, le=1, description="How sure the identification is here; null when forced."
    )


class SpeechSpan(_Part):
    """A stretch of the video's time, in seconds."""

    start_s: float = Field(ge=0)
    end_s: float = Field(ge=0)


class Animal(_Part):
    """One animal label seen at or above the confidence threshold."""

    label: str
    max_count: int = Field(ge=1, description="Most instances of this label in one sampled frame.")
    first_seen_s: float = Field(ge=0)
    last_seen_s: float = Field(ge=0)
    max_confidence: float = Field(ge=0, le=1)
    frames: int = Field(ge=1, description="Sampled frames in which the label was seen.")
    thumbnail: str | None = Field(description="URI of an image of the best detection.")


class Transcript(_Part):
    """What was said, as text."""

    segments: int = Field(ge=0)
    words: int = Field(ge=0)
    uri: str | None = Field(
        description="JSON transcript with segment and word timestamps; null without speech."
    )
    # Optional, as in the contract: manifests made before languages per stretch lack them.
    speech_s: float | None = Field(
        None,
        ge=0,
        exclude_if=lambda v: v is None,
        description="Seconds of the video that voice activity detection heard as speech.",
    )
    untranscribed: list[SpeechSpan] | None = Field(
        None,
        exclude_if=lambda v: v is None,
        description="Speech that produced no words (at least 1.5 s each): empty when every "
        "stretch of speech was transcribed.",
    )


class VideoSegment(_Part):
    """One segment of a video that several workers processed, and the run that did."""

    index: int = Field(ge=0)
    start_s: float = Field(ge=0, description="Its first frame's time.")
    end_s: float = Field(gt=0, description="The next segment's start, or the video's end.")
    flow_run_id: str = Field(description="The process-segment flow run whose result was used.")


class Subtitles(_Part):
    """The transcript as subtitle files."""

    srt: str | None = Field(description="URI of the SubRip file; null without speech.")
    vtt: str | None = Field(description="URI of the WebVTT file; null without speech.")


class VideoFile(_Part):
    """One encoded video."""

    label: str = Field(description="e.g. 480p")
    uri: str
    width: int = Field(ge=2)
    height: int = Field(ge=2)
    size_bytes: int = Field(ge=1)
    # Optional, as in the contract: manifests catalogued before it was recorded lack it.
    encoder: str | None = Field(
        None,
        exclude_if=lambda encoder: encoder is None,
        description="The H.264 encoder that made it: libx264 or h264_nvenc.",
    )


class FinalVideo(VideoFile):
    """The video to watch."""

    subtitles: FinalSubtitles = Field(
        description="Burned into the picture, a soft track, or none (no speech or not asked)."
    )


class Timings(_Part):
    """Wall seconds per stage, and total for the whole run."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, NonNegativeFloat] = Field(init=False)

    total: NonNegativeFloat


class Manifest(_Part):
    """What one processed video produced. Written last, after every output it names exists, so
    its presence means the video is done. URIs are those of the storage the outputs went to:
    absolute file paths, s3://bucket/key, gs://bucket/key, ..."""

    schema_version: Literal["1"] = Field(description="Changes only when readers must change.")
    video_id: str = Field(
        pattern="^[0-9a-f]{16}$",
        description="First 16 hex digits of the SHA-256 of the source file's bytes.",
    )
    status: Literal["completed"] = Field(description="A manifest is written once done.")
    source: Source
    media: Media
    language: Language
    languages: list[LanguageSpan] = Field(
        default_factory=list,
        exclude_if=lambda v: not v,
        description="The language of every stretch of speech, in time order (language is the "
        "one spoken longest); absent without speech.",
    )
    animals: list[Animal] = Field(description="One entry per animal label; empty when none.")
    transcript: Transcript
    subtitles: Subtitles
    renditions: list[VideoFile] = Field(
        description="Downscaled copies without subtitles, one per requested resolution."
    )
    final_video: FinalVideo
    thumbnails: list[str] = Field(description="URIs of evenly spaced JPEG stills.")
    segments: list[VideoSegment] = Field(
        default_factory=list,
        exclude_if=lambda v: not v,
        description="The segments the video was spread over, in order, when it was (one "
        "process-segment run each, joined); absent when one run processed it whole.",
    )
    timings_s: Timings
    parameters: dict[str, Any] = Field(
        description="The run's parameters as resolved (defaults filled in)."
    )
    pipeline_version: str = Field(description="The vidp version that made it.")
    created_at: AwareDatetime = Field(
        json_schema_extra={"format": "date-time"}, description="When it was made, to the second."
    )
    links: dict[str, str] = Field(
        default_factory=dict,
        exclude_if=lambda links: not links,
        description="Presigned or public HTTP URLs, keyed like the output files; absent where "
        "the storage has none.",
    )

    @field_serializer("created_at")
    def _to_the_second(self, created_at: datetime) -> str:
        # As manifests always had it: `+00:00` where pydantic would write `Z`.
        return created_at.isoformat(timespec="seconds")

    @property
    def uri(self) -> str:
        """Where this manifest is published: `manifest.json` beside its final video."""
        return self.final_video.uri.rsplit("/", 1)[0] + "/manifest.json"

    def to_json(self, indent: int | None = 2) -> str:
        """The text of `manifest.json` (`indent=None`: one line, for JSON Lines). Python's `json`
        writes it, as it always has: pydantic's own JSON would write some numbers differently
        (1e-07 as 1e-7)."""
        return json.dumps(self.model_dump(mode="json"), indent=indent, ensure_ascii=False)


@lru_cache
def manifest_schema() -> dict[str, Any]:
    """The JSON Schema every `manifest.json` conforms to, generated from `Manifest` as written."""
    schema = Manifest.model_json_schema(mode="serialization")
    del schema["title"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"vidp/manifest/{SCHEMA_VERSION}",
        "title": "vidp video manifest",
        **schema,
    }


def validate_manifest(document: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError when a manifest read as JSON breaks the schema."""
    jsonschema.validate(document, manifest_schema(), format_checker=jsonschema.FormatChecker())


class RenditionFile(BaseModel):
    label: str
    file: WorkFile
    width: int
    height: int
    encoder: str  # the H.264 encoder that made it: libx264 or h264_nvenc


class FinalFile(RenditionFile):
    subtitles: FinalSubtitles


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
    languages: list[LanguageStretch]
    speech_s: float | None
    untranscribed: list[Span] | None
    srt: WorkFile | None
    vtt: WorkFile | None
    renditions: list[RenditionFile]
    final: FinalFile
    thumbnails: list[WorkFile]
    parameters: dict[str, Any]
    video_segments: list[VideoSegment] = []

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
) -> Manifest:
    """The manifest for `results` once their files are at `uris`, with shareable `links` where the
    storage has them (both keyed like `Results.files`)."""
    from vidp import __version__

    r = results

    def video(f: RenditionFile, key: str) -> dict[str, Any]:
        size = f.file.local().stat().st_size
        return f.model_dump(exclude={"file"}) | {"uri": uris[key], "size_bytes": size}

    return Manifest(
        schema_version=SCHEMA_VERSION,
        video_id=r.source.ref.video_id,
        status="completed",
        source=Source(
            uri=r.source.uri,
            filename=r.source.filename,
            size_bytes=r.source.size_bytes,
            sha256=r.source.ref.sha256,
        ),
        media=Media(**r.media.model_dump(exclude={"format_name"})),
        language=Language(**r.language.model_dump()),
        languages=[LanguageSpan(**x.model_dump()) for x in r.languages],
        animals=[
            Animal(**a.model_dump(), thumbnail=uris.get(f"animals/{a.label}.jpg"))
            for a in r.animals
        ],
        transcript=Transcript(
            segments=r.segments,
            words=r.words,
            uri=uris.get("transcript.json"),
            speech_s=r.speech_s,
            untranscribed=None
            if r.untranscribed is None
            else [SpeechSpan(**x.model_dump()) for x in r.untranscribed],
        ),
        subtitles=Subtitles(srt=uris.get("subtitles.srt"), vtt=uris.get("subtitles.vtt")),
        renditions=[VideoFile(**video(x, f"renditions/{x.label}.mp4")) for x in r.renditions],
        final_video=FinalVideo(**video(r.final, "final.mp4")),
        thumbnails=[uris[f"thumbnails/{PurePosixPath(f.name).name}"] for f in r.thumbnails],
        segments=r.video_segments,
        timings_s=Timings(**{k: round(v, 3) for k, v in timings_s.items()}),
        parameters=r.parameters,
        pipeline_version=__version__,
        created_at=datetime.now(timezone.utc).replace(microsecond=0),
        links=links,
    )


if __name__ == "__main__":  # `python -m vidp.manifest > manifest.schema.json`
    print(json.dumps(manifest_schema(), indent=2))
