"""The markdown report a user reads on the flow run's Artifacts tab."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vidp.manifest import LanguageSpan, Manifest
from vidp.quality import untranscribed_warning

__all__ = ["markdown_report", "markdown_link", "detections_table", "language_timeline"]

_TIMELINE_COLUMNS = 40


def markdown_link(uri: str | None) -> str:
    """A markdown link to an output, named after its file."""
    if not uri:
        return "—"
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    target = uri if "://" in uri else Path(uri).as_uri()  # percent-encodes spaces and the like
    return f"[{name}]({target})"


def markdown_report(manifest: Manifest) -> str:
    """Summary, animals, language and links for one processed video."""
    media, lang = manifest.media, manifest.language
    language = (
        f"**{lang.code}** ({lang.method}"
        + (f", p={lang.probability:.2f}" if lang.probability is not None else "")
        + ")"
        if lang.code
        else "no speech"
    )
    lines = [
        f"# {manifest.source.filename}",
        "",
        f"`{manifest.video_id}` · {media.duration_s:.1f} s · {media.width}×{media.height}"
        f" · {media.fps:g} fps · {media.video_codec}"
        + (f" + {media.audio_codec}" if media.has_audio else " (no audio)"),
        "",
        f"**Language:** {language} · **Transcript:** {manifest.transcript.segments} segments,"
        f" {manifest.transcript.words} words",
        "",
        *language_timeline(manifest.languages, media.duration_s),
        *_untranscribed(manifest),
        "## Animals",
        "",
    ]
    if manifest.animals:
        lines += [
            "| animal | max in one frame | first seen (s) | last seen (s) | max confidence | frames |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {a.label} | {a.max_count} | {a.first_seen_s:.1f} | {a.last_seen_s:.1f}"
            f" | {a.max_confidence:.2f} | {a.frames} |"
            for a in manifest.animals
        ]
    else:
        lines.append("No animals detected.")
    final = manifest.final_video
    lines += [
        "",
        "## Outputs",
        "",
        f"- Final video ({final.width}×{final.height}, subtitles {final.subtitles}):"
        f" {markdown_link(final.uri)}",
        *(
            f"- Rendition {r.label} ({r.width}×{r.height}): {markdown_link(r.uri)}"
            for r in manifest.renditions
        ),
        f"- Subtitles: {markdown_link(manifest.subtitles.srt)}"
        f" · {markdown_link(manifest.subtitles.vtt)}",
        f"- Transcript: {markdown_link(manifest.transcript.uri)}",
        f"- Thumbnails: {' · '.join(markdown_link(t) for t in manifest.thumbnails) or '—'}",
        "",
        f"Total {manifest.timings_s.total:.1f} s · pipeline {manifest.pipeline_version}",
    ]
    return "\n".join(lines)


def language_timeline(stretches: list[LanguageSpan], duration_s: float) -> list[str]:
    """The stretches of speech, a row each, with a bar where each falls in the video; nothing
    for a video in one language."""
    if len({s.code for s in stretches}) < 2:
        return []
    rows = [
        "## Languages",
        "",
        "| from (s) | to (s) | language | p | timeline |",
        "|---:|---:|---|---:|---|",
    ]
    for s in stretches:
        first = min(_TIMELINE_COLUMNS - 1, int(s.start_s / duration_s * _TIMELINE_COLUMNS))
        last = max(first + 1, round(s.end_s / duration_s * _TIMELINE_COLUMNS))
        bar = "·" * first + "█" * (last - first) + "·" * (_TIMELINE_COLUMNS - last)
        p = f"{s.probability:.2f}" if s.probability is not None else "—"
        rows.append(f"| {s.start_s:.1f} | {s.end_s:.1f} | {s.code} | {p} | `{bar}` |")
    return [*rows, ""]


def _untranscribed(manifest: Manifest) -> list[str]:
    t = manifest.transcript
    spans = [(s.start_s, s.end_s) for s in t.untranscribed or []]
    warning = untranscribed_warning(spans, t.speech_s or 0.0)
    return [f"**Warning:** {warning}", ""] if warning else []


def detections_table(detections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for Prefect's table artifact, one per detected box, in time order."""
    return [
        {"time_s": d["time_s"], "label": d["label"], "confidence": d["confidence"]}
        for d in sorted(detections, key=lambda d: (d["time_s"], d["label"]))
    ]
