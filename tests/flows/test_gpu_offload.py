"""With VIDP_GPU_DEPLOYMENT set, process-video runs the models through analyze-gpu on another pool."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun, TaskRun
from prefect.settings import PREFECT_TASKS_REFRESH_CACHE, temporary_settings
from prefect.states import State

from vidp.flows.process_video import process_video
from vidp.manifest import manifest_schema
from vidp.options import ProcessOptions

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.usefixtures("detector_weights"),
]
SCHEMA = manifest_schema()


def run(clip: Path, out: Path) -> State:
    state = process_video(
        source=str(clip),
        output=str(out),
        options=ProcessOptions(resolutions=["360p"], whisper_model="base"),
        return_state=True,
    )
    assert state.is_completed(), state.message
    return state


def steps_and_children(state: State) -> tuple[list[TaskRun], list[FlowRun]]:
    """The task runs of the flow run that ended in `state`, and the flow runs they started."""
    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            )
        )
        children = [
            r for r in client.read_flow_runs() if r.parent_task_run_id in {t.id for t in tasks}
        ]
    return tasks, children


def test_models_run_on_the_gpu_deployment(
    gpu_worker, cat_clip: Path, tmp_path: Path, vidp_env
) -> None:
    vidp_env(VIDP_GPU_DEPLOYMENT="analyze-gpu/default", VIDP_WORK_DIR=str(tmp_path / "cpu-machine"))
    state = run(cat_clip, tmp_path / "out")
    manifest = state.result()
    jsonschema.validate(json.loads(Path(manifest.uri).read_text()), SCHEMA)
    assert [a.label for a in manifest.animals] == ["cat"] and manifest.animals[0].thumbnail
    assert manifest.language.code == "en" and manifest.transcript.words > 5
    assert manifest.final_video.subtitles == "burned"

    tasks, children = steps_and_children(state)
    names = {t.name.rsplit("-", 1)[0] for t in tasks}
    assert "encode_media" in names and not names & {"detect_batch", "transcript"}
    assert [(c.name, c.state.name) for c in children] == [(f"analyze-{cat_clip.name}", "Completed")]
    # The analysis travelled through the shared S3 result storage, not a local folder.
    stored = children[0].state.data
    assert stored.storage_block_id == Block.load("s3-bucket/shared-results")._block_document_id

    # Again with --refresh-cache: the GPU side remakes its steps too (none Cached).
    with temporary_settings({PREFECT_TASKS_REFRESH_CACHE: True}):
        _, (child,) = steps_and_children(run(cat_clip, tmp_path / "again"))
    remote, _ = steps_and_children(child.state)
    assert remote
    assert [t.name for t in remote if t.state_name != "Completed"] == []
