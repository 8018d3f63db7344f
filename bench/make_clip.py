"""Build the benchmark clip: H.264 + AAC, a cat for part of it, English speech through most of it.

python bench/make_clip.py            # 60 s, 1920x1080, 25 fps: bench/out/bench_1080p.mp4
python bench/make_clip.py bench/out/short.mp4 --duration 8 --height 360
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import wave
from pathlib import Path

from vidp.sample import asset, make_clip

DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "bench_1080p.mp4"

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
    "This is the end of our story, thank you for watching and listening.",
]
SPEECH_AT_S = 2.0  # the speech starts here
SPEECH_SHARE = 0.9  # and ends before this share of the clip
GAP_S = 0.4  # silence after each sentence


def speak(text: str, out: Path) -> Path:
    """One English sentence as a WAV, by espeak-ng."""
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(out), text], check=True)
    return out


def make_speech(out: Path, budget_s: float, work: Path) -> float:
    """Join sentences into one WAV while they fit in `budget_s` (at least one); return seconds."""
    total_s = 0.0
    with wave.open(str(out), "wb") as joined:
        for i, text in enumerate(SENTENCES):
            with wave.open(str(speak(text, work / f"s{i:02d}.wav")), "rb") as w:
                length_s = w.getnframes() / w.getframerate()
                if i and total_s + length_s > budget_s:
                    break
                if i == 0:
                    joined.setparams(w.getparams())
                gap = int(GAP_S * w.getframerate()) * w.getsampwidth() * w.getnchannels()
                joined.writeframes(w.readframes(w.getnframes()) + b"\0" * gap)
                total_s += length_s + GAP_S
    return total_s


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT, help="output .mp4")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--height", type=int, default=1080, help="16:9 frame height (default 1080)")
    args = parser.parse_args()

    size = (round(args.height * 16 / 9 / 2) * 2, args.height)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vidp-bench-speech-") as tmp:
        speech = Path(tmp) / "speech.wav"
        spoken_s = make_speech(speech, SPEECH_SHARE * args.duration - SPEECH_AT_S, Path(tmp))
        make_clip(
            args.out,
            duration_s=args.duration,
            size=size,
            fps=25,
            still=asset("cat.jpg"),
            still_window=(0.2 * args.duration, 0.7 * args.duration),
            speech=speech,
            speech_at_s=SPEECH_AT_S,
        )
    print(f"{args.out}: {args.duration:g} s, {size[0]}x{size[1]}, 25 fps, {spoken_s:.1f} s speech")


if __name__ == "__main__":
    main()
