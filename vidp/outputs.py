"""What a run makes from its source, and in how many decodes of it."""

from __future__ import annotations

from pydantic import BaseModel

from vidp.encode import Encoder, VideoCodec, target_size, thumbnail_times
from vidp.options import ProcessOptions
from vidp.probe import MediaInfo

__all__ = ["OutputPlan", "plan_outputs", "burn_in_first_pass"]

THUMBNAIL_LABEL = "360p"


class OutputPlan(BaseModel):
    """Every picture a run makes: renditions (label -> size, smallest first), the final video,
    the detector's frames and the thumbnails, and whether the final is burned in the same
    decode of the source as the rest (`one_pass`) or in a second one."""

    renditions: dict[str, tuple[int, int]]
    final_label: str
    subtitles: str
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
