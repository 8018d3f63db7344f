"""Build a benchmark clip that looks like camera footage: 1080p at 30 fps, a slow pan across a
photo (motion everywhere), film grain that changes every frame, a cat on screen from 20 % to 70 %
of the clip, and English speech (espeak-ng) over most of it.

python bench/make_clip.py --duration 60          # bench/out/clip-60s.mp4
python bench/make_clip.py --duration 240 --height 720 bench/out/other.mp4
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import wave
from pathlib import Path

from vidp.ffmpeg import media_arg, run_ffmpeg
from vidp.sample import asset

OUT = Path(__file__).resolve().parent / "out"

SENTENCES = [
    "Welcome to this short film about a cat that lives in a quiet house by the river.",
    "Every morning she wakes up early and waits by the kitchen door for her breakfast.",
    "After eating, she walks slowly through the garden and watches the birds in the trees.",
    "In the afternoon the sun warms the wooden floor, and she sleeps there for hours.",
    "When visitors arrive, she hides under the sofa until the house is calm again.",
    "Cats sleep for most of the day, but they are very alert when something moves.",
    "Her favourite toy is a small red ball that rolls under the table every evening.",
    "In winter she stays close to the fire and refuses to go outside in the snow.",
    "The children in the family read stories to her before they go to bed.",
    "At night she climbs onto the window and looks at the lights across the water.",
    "The bus to the city stops at the corner, and people wait there in the rain.",
    "On market days the square is full of voices, bicycles and the smell of bread.",
]
SPEECH_AT_S = 2.0  # the speech starts here
SPEECH_SHARE = 0.9  # and ends before this share of the clip
GAP_S = 0.5  # silence after each sentence


def clip_path(duration_s: float) -> Path:
    """Where a clip of this length goes by default."""
    return OUT / f"clip-{duration_s:g}s.mp4"


def make_speech(out: Path, budget_s: float, work: Path) -> float:
    """Sentences, in turn and again, joined into one WAV while they fit in `budget_s`."""
    total_s = 0.0
    with wave.open(str(out), "wb") as joined:
        for i in range(10_000):
            said = work / f"s{i % len(SENTENCES):02d}.wav"
            if not said.exists():
                text = SENTENCES[i % len(SENTENCES)]
                subprocess.run(
                    ["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(said), text], check=True
                )
            with wave.open(str(said), "rb") as w:
                length_s = w.getnframes() / w.getframerate()
                if i and total_s + length_s > budget_s:
                    break
                if i == 0:
                    joined.setparams(w.getparams())
                gap = int(GAP_S * w.getframerate()) * w.getsampwidth() * w.getnchannels()
                joined.writeframes(w.readframes(w.getnframes()) + b"\0" * gap)
                total_s += length_s + GAP_S
    return total_s


def _panned(index: int, size: tuple[int, int], period_s: float) -> str:
    """Input `index` (a looped photo) covering a frame 25 % larger than `size`, panned slowly."""
    w, h = size
    big_w, big_h = round(w * 1.25 / 2) * 2, round(h * 1.25 / 2) * 2
    return (
        f"[{index}:v]scale={big_w}:{big_h}:force_original_aspect_ratio=increase,"
        f"crop={big_w}:{big_h},crop={w}:{h}"
        f":x='(iw-ow)*(0.5+0.5*sin(t/{period_s}))':y='(ih-oh)*(0.5+0.5*cos(t/{period_s * 1.3}))'"
        ",setsar=1"
    )


def make_clip(out: Path, duration_s: float, height: int, fps: int) -> float:
    """Write the clip; return how many seconds of it are speech."""
    import ultralytics  # for its street photo

    size = (round(height * 16 / 9 / 2) * 2, height)
    street = Path(ultralytics.__file__).parent / "assets" / "bus.jpg"
    cat_from, cat_to = 0.2 * duration_s, 0.7 * duration_s
    with tempfile.TemporaryDirectory(prefix="vidp-bench-clip-") as tmp:
        speech = Path(tmp) / "speech.wav"
        spoken_s = make_speech(speech, SPEECH_SHARE * duration_s - SPEECH_AT_S, Path(tmp))
        still = ["-loop", "1", "-framerate", str(fps), "-t", f"{duration_s:g}", "-i"]
        graph = ";".join(
            [
                _panned(0, size, 3.0) + "[street]",
                _panned(1, size, 4.0) + "[cat]",
                f"[street][cat]overlay=0:0:enable='between(t,{cat_from:g},{cat_to:g})'[scene]",
                "[scene]noise=alls=14:allf=t+u,format=yuv420p[v]",  # grain, new every frame
                f"[2:a]aresample=48000,adelay={int(SPEECH_AT_S * 1000)}:all=1,"
                f"apad,atrim=0:{duration_s:g}[a]",
            ]
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        run_ffmpeg(
            [
                *still,
                media_arg(street),
                *still,
                media_arg(asset("cat.jpg")),
                "-i",
                media_arg(speech),
                "-filter_complex",
                graph,
                "-map",
                "[v]",
                "-map",
                "[a]",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-crf",
                "21",  # about a phone camera's bitrate
                "-c:a",
                "aac",
                "-b:a",
                "128k",
                "-t",
                f"{duration_s:g}",
            ],
            out=out,
        )
    return spoken_s


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "out", nargs="?", type=Path, help="output .mp4 (default bench/out/clip-Ns.mp4)"
    )
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--height", type=int, default=1080, help="16:9 frame height (default 1080)")
    parser.add_argument("--fps", type=int, default=30, help="frames per second (default 30)")
    args = parser.parse_args()
    out = args.out or clip_path(args.duration)
    spoken_s = make_clip(out, args.duration, args.height, args.fps)
    print(f"{out}: {args.duration:g} s, {args.height}p{args.fps}, {spoken_s:.1f} s of speech")


if __name__ == "__main__":
    main()
