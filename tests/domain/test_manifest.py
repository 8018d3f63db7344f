"""The manifest: `Manifest` writes the JSON vidp always wrote, and its generated schema keeps the
team's shared contract (every requirement of the contract holds in ours; ours may add)."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from helpers.manifests import PUBLISHED
from helpers.repo import REPO

from vidp.detect import AnimalSummary
from vidp.ingest import StagedVideo, VideoRef
from vidp.languages import LanguageStretch
from vidp.manifest import (
    FinalFile,
    Manifest,
    RenditionFile,
    Results,
    build_manifest,
    manifest_schema,
    validate_manifest,
)
from vidp.probe import MediaInfo
from vidp.speech import LanguageResult
from vidp.workfiles import WorkFile

SHARED = REPO.parent / "shared" / "contracts" / "manifest.schema.json"
needs_contract = pytest.mark.skipif(
    not SHARED.exists(), reason="the team's shared/contracts is not beside this clone"
)

_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number", type(None): "null"}


def _flat(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """What `schema` allows, in one object: its local `$ref` followed, its `allOf` parts merged
    in (a value meets them all), its `anyOf` branches joined (a value meets one)."""
    if "$ref" in schema:
        target = root["$defs"][schema["$ref"].removeprefix("#/$defs/")]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    values = schema.get("enum", [schema["const"]] if "const" in schema else None)
    types = schema.get("type", [_JSON_TYPES[type(v)] for v in values] if values else None)
    flat = {
        "types": None if types is None else {types} if isinstance(types, str) else set(types),
        "values": values,
        "properties": dict(schema.get("properties", {})),
        "required": set(schema.get("required", ())),
        "items": schema.get("items"),
        "additional": schema.get("additionalProperties"),
    }
    parts = [_flat(s, root) for s in schema.get("allOf", ())]
    branches = [_flat(s, root) for s in schema.get("anyOf", ())]
    for part in parts + branches:
        flat["properties"] |= part["properties"]
        flat["required"] |= part["required"]
        flat["items"] = flat["items"] or part["items"]
        flat["additional"] = flat["additional"] or part["additional"]
    for part in parts:
        flat["types"] = flat["types"] or part["types"]
    if branches and all(b["types"] is not None for b in branches):
        flat["types"] = set().union(*(b["types"] for b in branches))
    return flat


def incompatibilities(
    contract: dict[str, Any], ours: dict[str, Any], roots: tuple[dict, dict], where: str = ""
) -> list[str]:
    """Where `ours` breaks `contract`: a property the contract requires that ours lacks or makes
    optional, a type or value the contract does not allow (null included), recursively through
    properties, array items and additional properties."""
    c, o = _flat(contract, roots[0]), _flat(ours, roots[1])
    at = where or "/"
    problems = []
    if c["types"] is not None:
        allowed = c["types"] | ({"integer"} if "number" in c["types"] else set())
        if o["types"] is None or not o["types"] <= allowed:
            problems.append(f"{at}: {sorted(o['types'] or ['any'])}, not {sorted(c['types'])}")
    if c["values"] is not None and not set(o["values"] or ["any"]) <= set(c["values"]):
        problems.append(f"{at}: values {o['values']}, not {c['values']}")
    for name in sorted(c["required"] - o["required"]):
        problems.append(f"{where}/{name}: required by the contract, not here")
    for name, schema in o["properties"].items():
        if name in c["properties"]:
            problems += incompatibilities(c["properties"][name], schema, roots, f"{where}/{name}")
        elif isinstance(c["additional"], dict):
            problems += incompatibilities(c["additional"], schema, roots, f"{where}/{name}")
    if c["items"] is not None:
        problems += incompatibilities(c["items"], o["items"] or {}, roots, f"{where}/items")
    if isinstance(c["additional"], dict):
        additional = o["additional"] if isinstance(o["additional"], dict) else {}
        problems += incompatibilities(c["additional"], additional, roots, f"{where}/*")
    return problems


@pytest.fixture(scope="module")
def contract() -> dict[str, Any]:
    return json.loads(SHARED.read_text())


@needs_contract
class TestSchema:
    def test_keeps_the_shared_contract(self, contract: dict[str, Any]) -> None:
        ours = manifest_schema()
        assert incompatibilities(contract, ours, (contract, ours)) == []
        assert (ours["$schema"], ours["$id"], ours["title"]) == (
            contract["$schema"],
            contract["$id"],
            contract["title"],
        )

    @pytest.mark.parametrize(
        ("change", "found"),
        [
            (lambda s: s["required"].remove("video_id"), "/video_id: required by the contract"),
            (
                lambda s: s["properties"].update(links={"anyOf": [{"type": "object"}, {}]}),
                "/links: ['any'], not ['object']",
            ),
            (
                lambda s: s["$defs"]["VideoFile"]["properties"]["width"].update(type="string"),
                "/renditions/items/width: ['string'], not ['integer']",
            ),
            (
                lambda s: s["$defs"]["Language"]["properties"]["method"].update(
                    anyOf=[{"type": "string"}, {"type": "null"}]
                ),
                "/language/method: ['null', 'string'], not ['string']",
            ),
            (
                lambda s: s["$defs"]["Timings"].update(additionalProperties={"type": "string"}),
                "/timings_s/*: ['string'], not ['number']",
            ),
        ],
    )
    def test_a_broken_contract_is_found(
        self, contract: dict[str, Any], change: Any, found: str
    ) -> None:
        ours = copy.deepcopy(manifest_schema())
        change(ours)
        assert found in "\n".join(incompatibilities(contract, ours, (contract, ours)))

    def test_is_printed_for_whoever_needs_a_file(self) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "vidp.manifest"], capture_output=True, text=True, check=True
        )
        assert json.loads(done.stdout) == manifest_schema()


def _results(work: Path, speech: bool, parameters: dict[str, Any]) -> Results:
    """What the run that wrote PUBLISHED[...] produced: with speech and a cat, or neither."""
    video = VideoRef(sha256=hashlib.sha256(b"cat video").hexdigest())

    def file(name: str, size: int) -> WorkFile:
        path = work / video.video_id / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
        return WorkFile.at(video, path)

    def rendition(label: str, size: int, width: int, height: int) -> RenditionFile:
        made = file(f"rendition-{label}.mp4", size)
        return RenditionFile(label=label, file=made, width=width, height=height, encoder="libx264")

    name = """cat's "video" é.mp4"""
    cat = AnimalSummary(
        label="cat",
        max_count=1,
        first_seen_s=3.0,
        last_seen_s=6.5,
        max_confidence=0.912345,
        frames=4,
    )
    return Results(
        source=StagedVideo(ref=video, uri=f"/uploads/{name}", filename=name, size_bytes=123456),
        media=MediaInfo(
            duration_s=10.0,
            width=1280,
            height=720,
            fps=25.0,
            video_codec="h264",
            has_audio=speech,
            audio_codec="aac" if speech else None,
            format_name="mov,mp4,m4a,3gp,3g2,mj2",
        ),
        language=LanguageResult(code="en", probability=0.9871234, method="whisper")
        if speech
        else LanguageResult(code=None, probability=None, method="none"),
        animals=[cat] if speech else [],
        animal_images={"cat": file("animals/cat.jpg", 10)} if speech else {},
        transcript=file("transcript.json", 20) if speech else None,
        segments=2 if speech else 0,
        words=12 if speech else 0,
        languages=[
            LanguageStretch(start_s=1.0, end_s=4.25, code="en", probability=0.9871),
            LanguageStretch(start_s=5.5, end_s=8.75, code="es", probability=0.8123),
        ]
        if speech
        else [],
        speech_s=6.5 if speech else None,
        untranscribed=[] if speech else None,
        srt=file("subtitles.srt", 30) if speech else None,
        vtt=file("subtitles.vtt", 31) if speech else None,
        renditions=[rendition("360p", 1000, 640, 360), rendition("480p", 2000, 854, 480)],
        final=FinalFile(
            label="480p",
            file=file("final.mp4", 2100),
            width=854,
            height=480,
            encoder="libx264",
            subtitles="burned" if speech else "none",
        ),
        thumbnails=[file("thumbnails/thumb_01.jpg", 5), file("thumbnails/thumb_02.jpg", 6)],
        parameters=parameters,
    )


@pytest.mark.parametrize("where", PUBLISHED)
class TestJson:
    def test_reads_and_writes_back_what_vidp_wrote_byte_for_byte(self, where: str) -> None:
        text = PUBLISHED[where].read_text(encoding="utf-8")
        assert Manifest.model_validate_json(text).to_json() == text

    def test_build_manifest_writes_the_same_json_as_before(self, where: str, work_root) -> None:
        """The same results in, the same manifest.json out: keys, order, nulls, `links` only
        where the storage has them, numbers and non-ASCII as they were."""
        text = PUBLISHED[where].read_text(encoding="utf-8")
        before = Manifest.model_validate_json(text)
        results = _results(work_root, where == "s3", before.parameters)
        folder = before.uri.rsplit("/", 1)[0]
        uris = {key: f"{folder}/{key}" for key in results.files()}
        built = build_manifest(results, uris, before.links, {"total": 12.3456789})
        assert ("links" in json.loads(built.to_json())) == bool(before.links)
        same_moment = {"created_at": before.created_at, "pipeline_version": "0.1.0"}
        assert built.model_copy(update=same_moment).to_json() == text

    @needs_contract
    def test_validates_against_the_contract_and_ours(
        self, where: str, contract: dict[str, Any]
    ) -> None:
        document = json.loads(PUBLISHED[where].read_text(encoding="utf-8"))
        for schema in (contract, manifest_schema()):
            jsonschema.validate(document, schema, format_checker=jsonschema.FormatChecker())


def test_a_manifest_made_before_languages_per_stretch_still_reads() -> None:
    older = json.loads(PUBLISHED["s3"].read_text(encoding="utf-8"))
    del older["languages"], older["transcript"]["speech_s"], older["transcript"]["untranscribed"]
    read = Manifest.model_validate(older)
    assert read.languages == [] and read.transcript.untranscribed is None
    assert json.loads(read.to_json()) == older
    validate_manifest(older)


def test_a_manifest_catalogued_before_encoders_were_recorded_still_reads() -> None:
    older = json.loads(PUBLISHED["local"].read_text(encoding="utf-8"))
    for video in [*older["renditions"], older["final_video"]]:
        del video["encoder"]
    read = Manifest.model_validate(older)
    assert read.final_video.encoder is None and json.loads(read.to_json()) == older
