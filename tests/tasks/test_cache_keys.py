"""What changes a model's results is in its tasks' cache keys: the device and the precision."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from prefect.cache_policies import CompoundCachePolicy

from vidp.tasks.animals import detect_batch
from vidp.tasks.policies import ON_MODEL_RUNTIME
from vidp.tasks.speech import speechbrain_language, transcript


def _key(vidp_env: Callable[..., None], device: str) -> str | None:
    vidp_env(VIDP_DEVICE=device)
    return ON_MODEL_RUNTIME.compute_key(task_ctx=None, inputs={}, flow_parameters={})  # type: ignore[arg-type]


def test_the_device_changes_the_key(vidp_env: Callable[..., None]) -> None:
    assert _key(vidp_env, "cpu") != _key(vidp_env, "cuda")


@pytest.mark.parametrize("model_task", [transcript, detect_batch, speechbrain_language])
def test_every_model_task_keys_on_it(model_task) -> None:
    policy = model_task.cache_policy
    assert isinstance(policy, CompoundCachePolicy) and ON_MODEL_RUNTIME in policy.policies
