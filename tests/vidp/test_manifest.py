"""The packaged manifest schema is the shared contract, unchanged."""

from __future__ import annotations

import json

import pytest
from conftest import REPO

from vidp.manifest import manifest_schema

SHARED = REPO.parent / "shared" / "contracts" / "manifest.schema.json"


@pytest.mark.skipif(
    not SHARED.exists(), reason="the team's shared/contracts is not beside this clone"
)
def test_packaged_schema_is_the_shared_contract() -> None:
    assert manifest_schema() == json.loads(SHARED.read_text())
