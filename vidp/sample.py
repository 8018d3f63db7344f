"""Make sample videos with ffmpeg: for the demo, the tests and the benchmark."""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

from vidp.ffmpeg import media_arg, run_ffmpeg

__all__ = ["make_clip", "make_demo_video", "asset"]


def asset(name: str) -> Path:
    """A file shipped in `vidp/assets` (a photo of a cat, a spoken English sentence)."""
    with as_file(files("vidp").joinpath("assets", name)) as path:
        return Path(path)


def make_clip(
    out: Path,
    *,
    duration_s: float,
    size: tuple[int, int] = (640, 360),
    fps: int = 25,
    still: Path | None = None,
    still_window: tuple[float, float] | None = None,
    speech: Path | None = None,
    speech_at_s: float = 0.0,
    tone_s: float = 0.0,
    audio: bool = True,
    crf: int = 23,
) -> Path:
    """A test-pattern video, optionally with a still image shown over it and speech on the track.

    `still_window` limits when the still is visible (default: always); `tone_s` puts a sine
    tone (music stand-in) at the start; `audio=False` makes a video with no audio stream.
    """
    w, h = size
    inputs = ["-f", "lavfi", "-i", f"testsrc2=s={w}x{h}:r={fps}:d={duration_s}"]
    video = "0:v"
    graph: list[str] = []
    n = 1
    if still is not None:
        inputs += [
            "-loop",
            "1",
            "-framerate",
            str(fps),
            "-t",
            str(duration_s),
            "-i",
            media_arg(still),
        ]
        graph.append(f"[{n}:v]scale={w}:{h}:force_original_aspect_ratio=decrease,setsar=1[still]")
        a, b = still_window or (0.0, duration_s)
        graph.append(f"[0:v][still]overlay=(W-w)/2:(H-h)/2:enable='between(t,{a},{b})'[v]")
        video = "[v]"
        n += 1
    maps = ["-map", video]
    if audio:
        inputs += ["-f", "lavfi", "-i", f"anullsrc=r=48000:cl=mono:d={duration_s}"]
        mix = [f"[{n}:a]"]
        n += 1
        if tone_s:
            inputs += ["-f", "lavfi", "-i", f"sine=f=330:r=48000:d={tone_s}"]
            mix.append(f"[{n}:a]")
            n += 1
        if speech is not None:
            inputs += ["-i", media_arg(speech)]
            delay = int(speech_at_s * 1000)
            graph.append(f"[{n}:a]aresample=48000,adelay={delay}:all=1[speech]")
            mix.append("[speech]")
            n += 1
        graph.append(f"{''.join(mix)}amix=inputs={len(mix)}:duration=first:normalize=0[a]")
        maps += ["-map", "[a]", "-c:a", "aac", "-b:a", "96k"]
    run_ffmpeg(
        [
            *inputs,
            *(["-filter_complex", ";".join(graph)] if graph else []),
            *maps,
            "-t",
            str(duration_s),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            str(crf),
            "-pix_fmt",
            "yuv420p",
        ],
        out=out,
    )
    return out


def make_demo_video(out: Path) -> Path:
    """12 s: a cat from 2 s to 10 s, and an English sentence from 1 s."""
    return make_clip(
        out,
        duration_s=12,
        still=asset("cat.jpg"),
        still_window=(2, 10),
        speech=asset("speech_en.m4a"),
        speech_at_s=1.0,
    )
