"""The packaged manifest schema is the shared contract, unchanged."""

from __future__ import annotations

import json

from conftest import REPO

from vidp.manifest import manifest_schema


def test_packaged_schema_is_the_shared_contract() -> None:
    shared = json.loads((REPO.parent / "shared" / "contracts" / "manifest.schema.json").read_text())
    assert manifest_schema() == shared
