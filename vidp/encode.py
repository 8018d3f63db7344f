"""Every picture a run makes, from one decode of the source per ffmpeg pass: renditions, the final
video with burned subtitles, the detector's frames and the thumbnails. Also the soft-subtitle mux."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal, NamedTuple

from vidp.atomic import atomic_dir, atomic_file
from vidp.devices import usable_cores
from vidp.ffmpeg import FfmpegError, media_arg, run_ffmpeg
from vidp.options import RESOLUTION_HEIGHTS

__all__ = [
    "Encoder",
    "VideoCodec",
    "Encode",
    "FrameSample",
    "Thumbnails",
    "PassFiles",
    "Part",
    "AAC",
    "DETECTOR_SIZE",
    "frame_time",
    "target_size",
    "thumbnail_times",
    "encode_pass",
    "mux_soft_subtitles",
    "subtitle_font",
    "copy_video",
    "nvenc_available",
    "choose_encoder",
]

Encoder = Literal["libx264", "h264_nvenc"]

AAC = ["-c:a", "aac", "-b:a", "128k"]  # every run's audio, unless the source's is AAC already
# x264's presets onto NVENC's p1 (fastest) .. p7 (best), so one option means the same on both.
_NVENC_PRESETS = {
    "ultrafast": "p1",
    "superfast": "p1",
    "veryfast": "p2",
    "faster": "p3",
    "fast": "p3",
    "medium": "p4",
    "slow": "p5",
    "slower": "p6",
    "veryslow": "p7",
}
_SUBTITLE_STYLE = "FontName=DejaVu Sans,FontSize=20,Outline=1.5,Shadow=0,MarginV=18"
DETECTOR_SIZE = 640  # the detector letterboxes to 640 px: its frames need no more


@dataclass(frozen=True)
class VideoCodec:
    """How every H.264 output of a run is encoded."""

    encoder: Encoder
    crf: int
    preset: str

    def args(self, encodes_in_pass: int = 1) -> list[str]:
        """ffmpeg's options for one of `encodes_in_pass` encodes made by one ffmpeg."""
        if self.encoder == "h264_nvenc":
            quality = ["-rc", "vbr", "-cq", str(self.crf), "-b:v", "0"]
            return ["-c:v", "h264_nvenc", "-preset", _NVENC_PRESETS[self.preset], *quality]
        x264 = ["-c:v", "libx264", "-preset", self.preset, "-crf", str(self.crf)]
        if encodes_in_pass == 1:
            return x264
        # Each x264 takes 1.5 threads a core by default: two in one pass (the rendition and the
        # burned final) oversubscribed two cores, 2-3 % more CPU seconds for the same output.
        return [*x264, "-threads", str(max(1, usable_cores() // encodes_in_pass))]


@dataclass(frozen=True)
class Encode:
    """One H.264 + AAC file at `size`, with the SRT `subtitles` burned in when given."""

    out: Path
    size: tuple[int, int]
    subtitles: Path | None = None


@dataclass(frozen=True)
class FrameSample:
    """JPEGs at `fps` for the detector, `<prefix>000001.jpg` on, longest side at most 640 px."""

    out_dir: Path
    fps: float
    prefix: str = ""


@dataclass(frozen=True)
class Thumbnails:
    """One JPEG at each of `times` (or the first frame after it), `thumb_<first>.jpg` on
    (`thumb_01.jpg` by default)."""

    out_dir: Path
    times: tuple[float, ...]
    size: tuple[int, int]
    first: int = 1


@dataclass(frozen=True)
class Part:
    """`frames` frames of the source, from the first shown after `seek_s`, and no audio: one
    segment of a video that several workers encode (`vidp.segments`)."""

    seek_s: float
    frames: int

    @property
    def input_args(self) -> list[str]:
        # ffmpeg decodes from the keyframe before `seek_s` and drops every frame shown before it.
        return ["-ss", f"{self.seek_s:.6f}"]

    @property
    def filters(self) -> str:
        """Its frames only, their times from zero as each encode of the whole video has them."""
        return f"trim=end_frame={self.frames},setpts=PTS-STARTPTS"


class PassFiles(NamedTuple):
    encodes: list[Path]
    frames: list[Path]
    thumbnails: list[Path]


@dataclass
class _Graph:
    """An ffmpeg filter graph being assembled: its chains and a counter for pad names."""

    chains: list[str] = field(default_factory=list)
    pads: int = 0

    def split(self, source: str, count: int) -> list[str]:
        """`count` copies of pad `source` (itself when one is enough)."""
        if count == 1:
            return [source]
        names = [self.pad() for _ in range(count)]
        self.chains.append(f"[{source}]split={count}" + "".join(f"[{n}]" for n in names))
        return names

    def chain(self, source: str, filters: str) -> str:
        """`source` through `filters`; the new pad's name."""
        name = self.pad()
        self.chains.append(f"[{source}]{filters}[{name}]")
        return name

    def pad(self) -> str:
        self.pads += 1
        return f"p{self.pads}"


def frame_time(index: int, fps: float) -> float:
    """Timestamp of the `index`-th sampled frame (0-based) for ffmpeg's `fps` filter."""
    return round(index / fps, 3)


def target_size(width: int, height: int, label: str) -> tuple[int, int]:
    """Size for `label` (the short side, as 480p means for portrait video too), aspect kept,
    even for yuv420p, never larger than the source."""
    short = min(width, height)
    scale = min(1.0, RESOLUTION_HEIGHTS[label] / short)

    def even(v: float) -> int:
        return max(2, int(round(v * scale / 2)) * 2)

    return even(width), even(height)


def thumbnail_times(duration_s: float, count: int) -> tuple[float, ...]:
    """`count` evenly spaced moments, none at the very start or end."""
    return tuple(round((i + 0.5) * duration_s / count, 3) for i in range(count))


def _select_at(times: Sequence[float]) -> str:
    """A `select` expression keeping the first frame at or after each of `times` (seconds from
    the first frame, as some containers do not start at zero)."""
    return "+".join(f"gte(t-start_t,{t})*not(gte(prev_selected_t-start_t,{t}))" for t in times)


def _pattern(directory: Path, name: str) -> str:
    """An image2 output pattern in `directory`, whose own `%` must not count as one."""
    return str(directory).replace("%", "%%") + "/" + name


@lru_cache
def subtitle_font() -> Path:
    """A TrueType font for libass that exists on any machine: matplotlib's DejaVu Sans."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def encode_pass(
    source: Path | str,
    codec: VideoCodec | None,
    encodes: Sequence[Encode] = (),
    frames: FrameSample | None = None,
    thumbnails: Thumbnails | None = None,
    copy_audio: bool = False,
    part: Part | None = None,
) -> PassFiles:
    """Make all of these from one decode of `source` (a file, or a URL ffmpeg reads in ranges):
    each size is scaled once and every encode at that size shares it; the audio is re-encoded
    as AAC, or copied when it already is (`copy_audio`). Only `part` of the source when given,
    without audio, its times starting at zero. Outputs appear whole or not at all.

    The `subtitles` filter takes its file name inside the filter graph, where `:`, `'`, `[`, `,`
    and `\\` are syntax: ffmpeg runs in a private folder holding `burnN.srt` and the font, so the
    graph names only those fixed relative paths, whatever the user's file and folder names.
    """
    graph = _Graph()
    sizes = list(dict.fromkeys(e.size for e in encodes))
    video = graph.chain("0:v", part.filters) if part else "0:v"
    branches = graph.split(video, len(sizes) + (frames is not None) + (thumbnails is not None))
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vidp-pass-")))
        where = source if isinstance(source, str) else media_arg(source)
        args = [*(part.input_args if part else []), "-i", where]
        outputs: list[str] = []
        for branch, size in zip(branches, sizes, strict=False):
            same = [e for e in encodes if e.size == size]
            scaled = graph.split(graph.chain(branch, f"scale={size[0]}:{size[1]}"), len(same))
            for pad, encode in zip(scaled, same, strict=True):
                if encode.subtitles is not None:
                    pad = graph.chain(pad, _burn(encode.subtitles, scratch, graph.pads))
                draft = stack.enter_context(atomic_file(encode.out))
                assert codec is not None, "encodes need a codec"
                outputs += ["-map", f"[{pad}]", *codec.args(len(encodes)), "-pix_fmt", "yuv420p"]
                if part is None:
                    audio = ["-c:a", "copy"] if copy_audio else AAC
                    outputs += ["-map", "0:a:0?", *audio]
                outputs += ["-movflags", "+faststart"]
                outputs.append(media_arg(draft))
        rest = branches[len(sizes) :]
        if frames is not None:
            scale = (
                f"scale=w='min({DETECTOR_SIZE},iw)':h='min({DETECTOR_SIZE},ih)'"
                ":force_original_aspect_ratio=decrease"
            )
            pad = graph.chain(rest.pop(0), f"fps={frames.fps},{scale}")
            frames_draft = stack.enter_context(atomic_dir(frames.out_dir))
            pattern = _pattern(frames_draft, f"{frames.prefix}%06d.jpg")
            outputs += ["-map", f"[{pad}]", "-q:v", "2", pattern]
        if thumbnails is not None:
            w, h = thumbnails.size
            pad = graph.chain(rest.pop(0), f"select='{_select_at(thumbnails.times)}',scale={w}:{h}")
            thumbs_draft = stack.enter_context(atomic_dir(thumbnails.out_dir))
            outputs += ["-map", f"[{pad}]", "-fps_mode", "passthrough", "-q:v", "3"]
            outputs += ["-start_number", str(thumbnails.first)]
            outputs.append(_pattern(thumbs_draft, "thumb_%02d.jpg"))
        if not outputs:
            return PassFiles([], [], [])
        run_ffmpeg([*args, "-filter_complex", ";".join(graph.chains), *outputs], cwd=scratch)
    return PassFiles(
        encodes=[e.out for e in encodes],
        frames=sorted(frames.out_dir.glob("*.jpg")) if frames else [],
        thumbnails=sorted(thumbnails.out_dir.glob("*.jpg")) if thumbnails else [],
    )


def _burn(srt: Path, scratch: Path, n: int) -> str:
    """The `subtitles` filter for `srt`, copied into `scratch` under a name the graph can hold."""
    name = f"burn{n}.srt"
    shutil.copyfile(srt, scratch / name)
    fonts = scratch / "fonts"
    if not fonts.exists():
        fonts.mkdir()
        shutil.copyfile(subtitle_font(), fonts / subtitle_font().name)
    return f"subtitles=filename={name}:fontsdir=fonts:charenc=UTF-8:force_style='{_SUBTITLE_STYLE}'"


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


def copy_video(video: Path, out: Path) -> Path:
    """The final video when no subtitles go in: the rendition's bytes as they are."""
    with atomic_file(out) as draft:
        shutil.copyfile(video, draft)
    return out


@lru_cache
def nvenc_available() -> bool:
    """Whether this machine's ffmpeg can encode with NVENC (an NVIDIA GPU with an encoder: L4 and
    T4 have one, H100 and A100 do not): a tenth of a second of black, encoded for real."""
    try:
        run_ffmpeg(
            ["-f", "lavfi", "-i", "color=black:s=256x256:d=0.1", "-c:v", "h264_nvenc"]
            + ["-f", "null", "-"],
            timeout_s=30,
        )
    except FfmpegError:
        return False
    return True


def choose_encoder(setting: Literal["auto", "libx264", "h264_nvenc"]) -> Encoder:
    """The H.264 encoder: `auto` takes NVENC where it works, x264 elsewhere; a forced NVENC that
    cannot work fails here, before any work, with the reason."""
    if setting == "libx264":
        return "libx264"
    if nvenc_available():
        return "h264_nvenc"
    if setting == "h264_nvenc":
        raise RuntimeError(
            "VIDP_ENCODER=h264_nvenc, but this machine's ffmpeg cannot encode with NVENC "
            "(no NVIDIA GPU with an encoder, or no driver): use auto or libx264"
        )
    return "libx264"
