"""One storage interface by URI scheme: the local file system, and fsspec's `memory://` standing
in for the object stores served through fsspec (gs://, az://), in this process, no server."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest

from vidp import storage
from vidp.errors import SourceNotFound, UnsupportedOutput, UnsupportedSource
from vidp.ingest import ingest
from vidp.publish import check_output, publication_for, publish, unpublish
from vidp.sweep import list_uploads, plan_sweep


@pytest.fixture
def memory() -> Iterator[fsspec.AbstractFileSystem]:
    """fsspec's in-process store, emptied after the test."""
    fs = fsspec.filesystem("memory")
    yield fs
    fs.rm("memory://bucket", recursive=True)


def test_a_source_in_another_store_is_ingested_byte_for_byte(
    memory: fsspec.AbstractFileSystem, work_root: Path
) -> None:
    memory.pipe_file("memory://bucket/in/clip one.mp4", b"video bytes" * 1000)
    staged = ingest("memory://bucket/in/clip one.mp4")
    assert staged.ref.path.read_bytes() == b"video bytes" * 1000
    assert staged.uri == "memory://bucket/in/clip one.mp4" and staged.filename == "clip one.mp4"
    with pytest.raises(SourceNotFound, match="source not found: memory://bucket/in/nope.mp4"):
        ingest("memory://bucket/in/nope.mp4")


@pytest.fixture
def output(tmp_path: Path) -> Path:
    """A file a run made."""
    made = tmp_path / "final.mp4"
    made.write_bytes(b"mp4")
    return made


def test_publishing_to_an_object_store_writes_the_manifest_last_and_unpublishes(
    memory: fsspec.AbstractFileSystem, output: Path
) -> None:
    publication = publication_for("memory://bucket/out", "0123456789abcdef")
    publication.begin()
    root = "memory://bucket/out/0123456789abcdef"
    assert publication.stage(output, "final.mp4") == f"{root}/final.mp4"
    assert publication.link(f"{root}/final.mp4") is None, "memory:// has no HTTPS links"
    assert memory.find("memory://bucket/out") == ["/bucket/out/0123456789abcdef/final.mp4"]
    assert publication.commit('{"video_id": "0123456789abcdef"}') == f"{root}/manifest.json"
    assert json.loads(memory.cat_file(f"{root}/manifest.json")) == {"video_id": "0123456789abcdef"}
    unpublish(f"{root}/manifest.json")
    assert memory.find("memory://bucket/out") == []


def test_a_failed_publish_leaves_nothing_in_an_object_store(
    memory: fsspec.AbstractFileSystem, output: Path
) -> None:
    publication = publication_for("memory://bucket/failed", "0123456789abcdef")
    with pytest.raises(FileNotFoundError):
        publish(
            publication,
            {"final.mp4": output, "b.jpg": output.with_name("missing.jpg")},
            lambda uris, links: pytest.fail("no manifest before every file"),
        )
    assert memory.find("memory://bucket/failed") == []


def test_uploads_in_any_store_are_swept_by_version(memory: fsspec.AbstractFileSystem) -> None:
    memory.pipe_file("memory://bucket/up/a.mp4", b"a")
    memory.pipe_file("memory://bucket/up/notes.txt", b"n")
    videos, ignored = plan_sweep(list_uploads("memory://bucket/up/"), "memory://bucket/out")
    assert [v.uri for v in videos] == ["memory://bucket/up/a.mp4"]
    assert ignored == {"memory://bucket/up/notes.txt": "not a video file name"}
    assert videos[0].idempotency_key.startswith("bucket/up/a.mp4/")


@pytest.mark.parametrize("uri", ["clips/a.mp4", "file://{root}/clips/a.mp4"])
def test_the_local_store_writes_whole_files_and_reads_them_back(tmp_path: Path, uri: str) -> None:
    uri = uri.format(root=tmp_path) if "{root}" in uri else str(tmp_path / uri)
    store = storage.at(uri)
    store.put_bytes(b"12345", uri)
    assert store.stat(uri) is not None and store.stat(uri).size == 5  # type: ignore[union-attr]
    sink = io.BytesIO()
    store.read_into(uri, sink)
    assert sink.getvalue() == b"12345"
    writer = store.writer(uri.replace("a.mp4", "b.mp4"), "video/mp4")
    writer.write(b"half")
    assert store.stat(writer.uri) is None, "invisible until committed"
    writer.abort()
    store.delete(uri)
    assert not (tmp_path / "clips").exists(), "a folder left empty goes, as a prefix does"


def test_unsupported_schemes_say_what_is_served_and_what_to_install() -> None:
    with pytest.raises(UnsupportedOutput, match=r"give a local folder, a file:// URI or s3://"):
        check_output("ftp://example.invalid/videos")
    with pytest.raises(UnsupportedSource, match=r"give a local path, a file:// URI or s3://"):
        ingest("ftp://example.invalid/a.mp4")
    with pytest.raises(UnsupportedOutput, match=r"gs:// needs gcsfs: pip install gcsfs"):
        check_output("gs://bucket/out")
