"""What a run makes from its source, and in how many decodes of it."""

from __future__ import annotations

from pydantic import BaseModel

from vidp.encode import Encoder, VideoCodec, target_size, thumbnail_times
from vidp.options import ProcessOptions
from vidp.probe import MediaInfo

__all__ = ["OutputPlan", "plan_outputs", "burn_in_first_pass", "TWO_PASS_CORES"]

THUMBNAIL_LABEL = "360p"
# From this many cores on, the final video is burned in a second decode of the source that runs
# beside the first: more CPU in all, but the renditions and frames do not wait for the
# transcript. Below, one decode makes everything once the subtitles are known: the least CPU.
TWO_PASS_CORES = 8


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


def burn_in_first_pass(setting: str, transcript_is_late: bool, cores: int) -> bool:
    """Whether burned subtitles go into the one decode that makes everything (`setting` "one"),
    or into a second decode of the source (`"two"`); `"auto"`: one, unless the transcript comes
    from elsewhere (a GPU pool) or the machine has TWO_PASS_CORES cores or more."""
    if setting != "auto":
        return setting == "one"
    return not transcript_is_late and cores < TWO_PASS_CORES


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
