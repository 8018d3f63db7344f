"""VoxLingua107 language ID with speechbrain: an optional backend (`pip install 'vidp[speechbrain]'`)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from vidp.devices import resolve_device
from vidp.settings import get_settings

if TYPE_CHECKING:
    from speechbrain.inference.classifiers import EncoderClassifier

__all__ = ["classify"]


@lru_cache(maxsize=1)
def _classifier(source: str) -> EncoderClassifier:
    from speechbrain.inference.classifiers import EncoderClassifier

    device = resolve_device(get_settings().device)
    return EncoderClassifier.from_hparams(source=source, run_opts={"device": device})


def classify(source: str, window: np.ndarray) -> tuple[str, float]:
    """The most likely language of 16 kHz mono `window` as (ISO 639-1 code, probability)."""
    import torch

    model = _classifier(source or get_settings().speechbrain_model)
    _, log_score, _, labels = model.classify_batch(torch.from_numpy(window).unsqueeze(0))
    # VoxLingua107 labels read "en: English".
    return labels[0].split(":")[0].strip(), float(log_score.exp()[0])
