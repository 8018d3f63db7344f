"""Renditions, the final video with its subtitles, and thumbnails, all through ffmpeg."""

from __future__ import annotations

import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

from vidp.atomic import atomic_dir, atomic_file
from vidp.ffmpeg import media_arg, run_ffmpeg
from vidp.options import RESOLUTION_HEIGHTS

__all__ = [
    "target_size",
    "encode_rendition",
    "burn_subtitles",
    "mux_soft_subtitles",
    "make_thumbnails",
    "subtitle_font",
    "copy_video",
]

_AUDIO = ["-c:a", "aac", "-b:a", "128k"]


def target_size(width: int, height: int, label: str) -> tuple[int, int]:
    """Size for `label` (the short side, as 480p means for portrait video too), aspect kept,
    even for yuv420p, never larger than the source."""
    short = min(width, height)
    scale = min(1.0, RESOLUTION_HEIGHTS[label] / short)

    def even(v: float) -> int:
        return max(2, int(round(v * scale / 2)) * 2)

    return even(width), even(height)


def _x264(crf: int, preset: str) -> list[str]:
    return ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p"]


def _encode(
    source: Path, out: Path, vf: str, crf: int, preset: str, cwd: Path | None = None
) -> Path:
    """One H.264 + AAC encode through `vf`, with the index up front (`+faststart`) so players
    start before the download ends."""
    run_ffmpeg(
        [
            "-i",
            media_arg(source),
            "-map",
            "0:v:0",
            "-map",
            "0:a:0?",
            "-vf",
            vf,
            *_x264(crf, preset),
            *_AUDIO,
            "-movflags",
            "+faststart",
        ],
        out=out,
        cwd=cwd,
    )
    return out


def encode_rendition(source: Path, out: Path, size: tuple[int, int], crf: int, preset: str) -> Path:
    """H.264 + AAC at `size`."""
    return _encode(source, out, f"scale={size[0]}:{size[1]}", crf, preset)


@lru_cache
def subtitle_font() -> Path:
    """A TrueType font for libass that exists on any machine: matplotlib's DejaVu Sans."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def burn_subtitles(
    source: Path, srt: Path, out: Path, size: tuple[int, int], crf: int, preset: str
) -> Path:
    """Scale and burn in one encode, straight from the source.

    The `subtitles` filter takes its file name inside the filter graph, where `:`, `'`, `[`,
    `,` and `\\` are syntax. ffmpeg runs in a private folder holding `burn.srt` and the font, so
    the graph names only those fixed relative paths, whatever the user's file and folder names.
    """
    w, h = size
    style = "FontName=DejaVu Sans,FontSize=20,Outline=1.5,Shadow=0,MarginV=18"
    vf = f"scale={w}:{h},subtitles=filename=burn.srt:fontsdir=fonts:charenc=UTF-8:force_style='{style}'"
    with tempfile.TemporaryDirectory(prefix="vidp-burn-") as name:
        scratch = Path(name)
        shutil.copyfile(srt, scratch / "burn.srt")
        (scratch / "fonts").mkdir()
        shutil.copyfile(subtitle_font(), scratch / "fonts" / subtitle_font().name)
        _encode(source, out, vf, crf, preset, cwd=scratch)
    return out


def _iso639_2(code: str | None) -> str | None:
    """MP4 tags languages with three letters (ISO 639-2/T); Whisper gives two (ISO 639-1)."""
    import pycountry

    found = pycountry.languages.get(alpha_2=code) if code and len(code) == 2 else None
    return found.alpha_3 if found else code if code and len(code) == 3 else None


def mux_soft_subtitles(video: Path, srt: Path, out: Path, language: str | None) -> Path:
    """Add the subtitles as a mov_text track; audio and video are copied, not re-encoded."""
    tag = _iso639_2(language)
    lang = ["-metadata:s:s:0", f"language={tag}"] if tag else []
    run_ffmpeg(
        [
            "-i",
            media_arg(video),
            "-i",
            media_arg(srt),
            "-map",
            "0:v",
            "-map",
            "0:a?",
            "-map",
            "1:0",
            "-c:v",
            "copy",
            "-c:a",
            "copy",
            "-c:s",
            "mov_text",
            *lang,
            "-disposition:s:0",
            "default",
            "-movflags",
            "+faststart",
        ],
        out=out,
    )
    return out


def make_thumbnails(
    source: Path, out_dir: Path, duration_s: float, count: int, size: tuple[int, int]
) -> list[Path]:
    """`count` JPEGs at evenly spaced times, all from one ffmpeg process (one fast seek each)."""
    if count == 0:
        return []
    args: list[str] = []
    for i in range(count):
        args += ["-ss", f"{(i + 0.5) * duration_s / count:.3f}", "-i", media_arg(source)]
    names = [f"thumb_{i + 1:02d}.jpg" for i in range(count)]
    with atomic_dir(out_dir) as draft:
        for i, name in enumerate(names):
            args += ["-map", f"{i}:v:0", "-frames:v", "1", "-vf", f"scale={size[0]}:{size[1]}"]
            args += ["-q:v", "3", media_arg(draft / name)]
        run_ffmpeg(args)
    return [out_dir / name for name in names]


def copy_video(video: Path, out: Path) -> Path:
    """The final video when no subtitles go in: the rendition's bytes as they are."""
    with atomic_file(out) as draft:
        shutil.copyfile(video, draft)
    return out
