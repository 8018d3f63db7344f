"""A video's work files, named so that a cached task result means the same file on every machine.

Tasks return `WorkFile`s (a name inside the video's work folder) rather than paths. With
a work store (`VIDP_WORK_STORE=s3://bucket/prefix`, or any URI `vidp.storage` serves) every kept
file is also copied to `<store>/<video_id>/<name>`, and `local()` fetches it on a machine that
lacks it: with Prefect's
results in shared storage too, a cache hit made on one worker serves every other. Without a store
the files stay where they were made, and `files_scope` keeps cache keys to this machine's
current work folder.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from vidp import storage
from vidp.atomic import atomic_dir, atomic_file
from vidp.ingest import VideoRef
from vidp.settings import get_settings

__all__ = ["WorkFile", "keep", "files_scope", "machine_scope"]


class WorkFile(BaseModel):
    """A file in a video's work folder. A name with a folder part belongs to a folder (one that
    a task wrote whole, or a segment's), fetched whole by a machine that lacks it."""

    video: VideoRef
    name: str

    @classmethod
    def at(cls, video: VideoRef, path: Path) -> WorkFile:
        """A file this machine made in `video`'s work folder, not shared (see `keep`)."""
        return cls(video=video, name=path.relative_to(video.work_dir).as_posix())

    @property
    def path(self) -> Path:
        """Where the file is, or would be, on this machine."""
        return self.video.work_dir / self.name

    @property
    def uri(self) -> str:
        """Where any machine with the same settings reads the file: the work store, else this
        machine's work folder."""
        return self.video.uri(self.name)

    def local(self) -> Path:
        """The file on this machine, fetched from the work store first when it was made elsewhere."""
        if self.path.exists():
            return self.path
        store = get_settings().work_store
        if not store:
            raise FileNotFoundError(f"work file missing and no VIDP_WORK_STORE set: {self.path}")
        folder, _, _ = self.name.rpartition("/")
        missing = f"{self.name} is not in {store}/{self.video.video_id}/"
        try:
            # A folder this machine lacks is fetched whole; where this machine has the folder
            # (a segment's, which its run fills file by file), the one file.
            if folder and not (self.video.work_dir / folder).exists():
                with atomic_dir(self.video.work_dir / folder) as draft:
                    storage.at(store).get_folder(self.video.uri(folder), draft)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with atomic_file(self.path) as draft:
                    storage.at(store).get_file(self.uri, draft)
        except FileNotFoundError as e:
            raise FileNotFoundError(missing) from e
        if not self.path.exists():  # an empty folder listing
            raise FileNotFoundError(missing)
        return self.path


def keep(video: VideoRef, paths: list[Path]) -> list[WorkFile]:
    """Files a task just made in `video`'s work folder, copied to the work store when one is set."""
    files = [WorkFile.at(video, p) for p in paths]
    store = get_settings().work_store
    if store:
        for f in files:
            storage.at(store).put_file(f.path, f.uri)
    return files


def files_scope(video: VideoRef) -> str:
    """Where cached files of `video` can be read back: the shared store, or this work folder."""
    return get_settings().work_store or machine_scope(video)


def machine_scope(video: VideoRef) -> str:
    """This machine's current work folder for `video`: for files that are never shared."""
    return f"{get_settings().work_dir}#{video.generation()}"
