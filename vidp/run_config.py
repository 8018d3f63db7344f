"""What one run uses on this machine, decided before it does any work."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from vidp.analysis import AnalysisModels
from vidp.devices import resolve_device
from vidp.encode import Encoder, choose_encoder
from vidp.options import ProcessOptions
from vidp.outputs import OutputPlan, burn_in_first_pass, plan_outputs
from vidp.probe import MediaInfo
from vidp.publish import check_output
from vidp.settings import Settings
from vidp.speech import require_backend

__all__ = ["RunConfig", "configure_run"]


class RunConfig(BaseModel):
    """A run's options resolved against the machine's settings: where its results go, the
    models, the encoder, where the model work runs and whether burned subtitles go into the
    first decode of the source."""

    source: str
    output: str
    options: ProcessOptions
    models: AnalysisModels
    encoder: Encoder
    gpu_deployment: str | None
    burn_first: bool

    def plan(self, media: MediaInfo) -> OutputPlan:
        """Every picture the run makes of this video."""
        return plan_outputs(media, self.options, self.encoder, self.burn_first)

    def manifest_parameters(self) -> dict[str, Any]:
        """The parameters the manifest records: the options, with the models actually used."""
        return {
            **self.options.model_dump(),
            "source": self.source,
            "output": self.output,
            **self.models.model_dump(),
        }


def configure_run(
    source: str, output: str | None, options: ProcessOptions, settings: Settings
) -> RunConfig:
    """Resolve `options` on this machine; what cannot run here (an output no storage serves, a
    backend not installed, a forced NVENC without one) fails now, with its reason."""
    output = output or settings.output
    check_output(output)
    require_backend(options.language_backend)
    on_gpu = bool(settings.gpu_deployment) or resolve_device(settings.device) == "cuda"
    return RunConfig(
        source=source,
        output=output,
        options=options,
        models=AnalysisModels.resolve(options, settings),
        encoder=choose_encoder(settings.encoder),
        gpu_deployment=settings.gpu_deployment,
        burn_first=burn_in_first_pass(settings.encode_passes, on_gpu),
    )
