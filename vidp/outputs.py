"""What a run makes from its source, in how many decodes of it, and under which work-file names.

The names are part of the cache: a re-run, or another machine sharing the work store, finds a
file by its name, so they change only with what is in the file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel

from vidp.encode import (
    Encode,
    Encoder,
    FrameSample,
    Thumbnails,
    VideoCodec,
    target_size,
    thumbnail_times,
)
from vidp.options import ProcessOptions, SubtitleMode
from vidp.probe import MediaInfo

__all__ = [
    "FinalSubtitles",
    "OutputPlan",
    "plan_outputs",
    "burn_in_first_pass",
    "frame_sample",
    "part_frames",
]

THUMBNAIL_LABEL = "360p"

FinalSubtitles = Literal["burned", "soft", "none"]
"""How the final video's subtitles went in, as the manifest records it."""

T = TypeVar("T")


class OutputPlan(BaseModel):
    """Every picture a run makes: renditions (label -> size, smallest first), the final video,
    the detector's frames and the thumbnails, and whether the final is burned in the same
    decode of the source as the rest (`one_pass`) or in a second one."""

    renditions: dict[str, tuple[int, int]]
    final_label: str
    subtitles: SubtitleMode
    one_pass: bool
    encoder: Encoder
    crf: int
    preset: str
    copy_audio: bool  # the source's audio is AAC already: copied, not encoded again
    sample_fps: float
    thumbnail_times: tuple[float, ...]
    thumbnail_size: tuple[int, int]

    @property
    def final_size(self) -> tuple[int, int]:
        return self.renditions[self.final_label]

    @property
    def codec(self) -> VideoCodec:
        return VideoCodec(self.encoder, self.crf, self.preset)

    @property
    def rendition_sizes(self) -> list[tuple[int, int]]:
        """One size per encode, smallest first: labels of one size share its file."""
        return list(dict.fromkeys(self.renditions.values()))

    def by_label(self, per_size: Sequence[T]) -> dict[str, T]:
        """Each label's item of `per_size`, which holds one per `rendition_sizes`."""
        by_size = dict(zip(self.rendition_sizes, per_size, strict=True))
        return {label: by_size[size] for label, size in self.renditions.items()}

    def final_subtitles(self, cues: int) -> FinalSubtitles:
        """How subtitles go into the final video, given the cues the speech made: as asked,
        except that without a cue there is nothing to show."""
        if cues == 0 or self.subtitles == "none":
            return "none"
        return "soft" if self.subtitles == "soft" else "burned"

    def burns_first(self, cues: int) -> bool:
        """Whether the first decode of the source also makes the final video, burned."""
        return self.one_pass and cues > 0

    def rendition_encodes(self, work_dir: Path) -> list[Encode]:
        """The renditions' encodes, one per size, in the order of `rendition_sizes`."""
        return [
            Encode(work_dir / f"{self._rendition_stem(size)}.mp4", size)
            for size in self.rendition_sizes
        ]

    def burned_encode(self, work_dir: Path, srt: Path) -> Encode:
        """The final video with `srt` burned in, named by the subtitles it burns."""
        w, h = self.final_size
        out = work_dir / f"final-burned-{w}x{h}-{self._codec_slug}-{srt.stem}.mp4"
        return Encode(out, self.final_size, srt)

    def final_path(self, work_dir: Path) -> Path:
        """The final video when it is the final rendition copied, or with a soft track added."""
        return work_dir / f"final-{self.subtitles}-{self._rendition_stem(self.final_size)}.mp4"

    def frame_sample(self, work_dir: Path) -> FrameSample:
        """The detector's frames, made by the first decode."""
        return frame_sample(work_dir, self.sample_fps)

    def part_thumbnails(self, folder: Path, start_s: float, end_s: float) -> Thumbnails | None:
        """The thumbnails that fall in a segment (times from its start), numbered as in the
        whole video; None when none does."""
        inside = [(i, t) for i, t in enumerate(self.thumbnail_times) if start_s <= t < end_s]
        whole = self.thumbnails(folder)
        if whole is None or not inside:
            return None
        times = tuple(round(t - start_s, 3) for _, t in inside)
        return Thumbnails(whole.out_dir, times, whole.size, first=inside[0][0] + 1)

    def thumbnails(self, work_dir: Path) -> Thumbnails | None:
        """The thumbnails, or None when none are asked for."""
        if not self.thumbnail_times:
            return None
        w, h = self.thumbnail_size
        out_dir = work_dir / f"thumbnails-{len(self.thumbnail_times)}-{w}x{h}"
        return Thumbnails(out_dir, self.thumbnail_times, self.thumbnail_size)

    def _rendition_stem(self, size: tuple[int, int]) -> str:
        w, h = size
        return f"rendition-{w}x{h}-{self._codec_slug}"

    @property
    def _codec_slug(self) -> str:
        return f"{self.encoder}-crf{self.crf}-{self.preset}"


def frame_sample(work_dir: Path, fps: float) -> FrameSample:
    """The detector's frames at `fps`, named the same whichever decode makes them (the encode's
    or `analyze-gpu`'s own), so that detections name the frames alike on every machine."""
    return FrameSample(work_dir / f"frames-{fps:g}fps", fps)


def part_frames(folder: Path, fps: float, index: int) -> FrameSample:
    """Segment `index`'s detector frames, in its own folder, named after it: the names of all
    segments' frames differ and sort in time order, whichever decode makes them."""
    return FrameSample(frame_sample(folder, fps).out_dir, fps, f"s{index:04d}-")


def burn_in_first_pass(setting: str, transcript_on_gpu: bool) -> bool:
    """Whether burned subtitles go into the one decode that makes everything (`setting` "one"),
    or into a second decode of the source (`"two"`); `"auto"`: one while the transcript is made
    on these CPU cores, two when a GPU makes it (this machine's, or a GPU pool's).

    Measured (bench/RESULTS.md): side by side, two decodes cost 30-40 % more CPU and, starting
    together, end later than one, on 16 cores as on 2; but a transcript that does not need the
    cores arrives a few seconds in, and from about 1.5 s on, the renditions that do not wait
    for it end the run sooner (60 s clip, 16 cores: 11.4 s against 15.3 s when 5 s late)."""
    if setting != "auto":
        return setting == "one"
    return not transcript_on_gpu


def plan_outputs(
    media: MediaInfo, options: ProcessOptions, encoder: Encoder, burn_first: bool
) -> OutputPlan:
    """The outputs of `options` for this video; `burn_first` from `burn_in_first_pass`."""
    return OutputPlan(
        renditions={
            label: target_size(media.width, media.height, label) for label in options.resolutions
        },
        final_label=options.final_resolution,
        subtitles=options.subtitles,
        one_pass=burn_first and options.subtitles == "burn" and media.has_audio,
        encoder=encoder,
        crf=options.crf,
        preset=options.preset,
        copy_audio=media.audio_codec == "aac",
        sample_fps=options.sample_fps,
        thumbnail_times=thumbnail_times(media.duration_s, options.thumbnails),
        thumbnail_size=target_size(media.width, media.height, THUMBNAIL_LABEL),
    )
