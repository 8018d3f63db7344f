"""Manifests as vidp writes them, for the tests that need one without running the flow."""

from __future__ import annotations

from pathlib import Path

from helpers.repo import REPO
from vidp.manifest import Manifest

__all__ = ["PUBLISHED", "published"]

# manifest.json as vidp wrote it before `Manifest` existed (build_manifest and json.dumps): to a
# folder, for a clip without speech; and to S3, with a cat, speech and presigned links.
PUBLISHED = {where: REPO / "tests" / "data" / f"manifest-{where}.json" for where in ("local", "s3")}


def published(video_id: str, folder: str | Path) -> Manifest:
    """The folder's manifest, made `video_id`'s, with its outputs named under `folder`."""
    text = PUBLISHED["local"].read_text(encoding="utf-8")
    example = Manifest.model_validate_json(text)
    text = text.replace(example.uri.rsplit("/", 1)[0], str(folder))
    return Manifest.model_validate_json(text.replace(example.video_id, video_id))
