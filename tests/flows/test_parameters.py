"""The flow's parameters are parameters: the deployment form's defaults and the CLI's options
come from ProcessOptions alone, whatever the environment of the process that builds them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers.processes import vidp
from helpers.repo import REPO

from vidp.options import ProcessOptions

_SCHEMA = """
import json
from prefect.utilities.callables import parameter_schema
from vidp.flows.process_video import process_video
print(json.dumps(parameter_schema(process_video).model_dump()))
"""


def test_the_form_defaults_do_not_depend_on_the_environment() -> None:
    env = {**os.environ, "VIDP_CRF": "40", "VIDP_RESOLUTIONS": '["720p"]', "VIDP_PRESET": "fast"}
    done = subprocess.run(
        [sys.executable, "-c", _SCHEMA], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    assert schema["properties"]["options"]["default"] == ProcessOptions().model_dump()
    assert ProcessOptions().crf == 23 and ProcessOptions().resolutions == ["480p"]


def test_the_cli_has_one_option_per_field() -> None:
    done = vidp("process", "--help", env={"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    flags = {"resolutions": "--resolution"}
    for name in ProcessOptions.model_fields:
        assert flags.get(name, "--" + name.replace("_", "-")) in done.stdout, name
