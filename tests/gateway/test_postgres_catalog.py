"""The gateway and the flow sharing a PostgreSQL catalog (Debian's server, started by the tests)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from helpers.gateway import API_KEY, Gateway, gateway_process
from helpers.postgres import create_database
from helpers.processes import vidp

from vidp.flows.process_video import process_video
from vidp.options import ProcessOptions

pytestmark = [pytest.mark.integration, pytest.mark.slow]
AUTH = {"X-API-Key": API_KEY}


@pytest.mark.usefixtures("detector_weights")
def test_upload_process_list_and_delete_on_postgresql(
    gateway: Gateway, postgres: str, bus_clip: Path, tmp_path: Path, vidp_env
) -> None:
    url = create_database(postgres, "gateway_catalog")
    assert vidp("catalog", "upgrade", env={"VIDP_CATALOG_URL": url}).returncode == 0

    env = {**gateway.env, "VIDP_CATALOG_URL": url, "VIDP_GATEWAY_UPLOADS": str(tmp_path / "up")}
    with gateway_process(env, tmp_path / "gateway.log") as base:
        uploaded = httpx.post(
            f"{base}/videos",
            files={"file": ("bus.mp4", bus_clip.read_bytes(), "video/mp4")},
            data={"title": "Bus"},
            headers=AUTH,
            timeout=60,
        ).json()
        video_id = uploaded["video_id"]
        queued = httpx.get(f"{base}/videos", params={"status": "queued"}, headers=AUTH).json()
        assert [v["video_id"] for v in queued["items"]] == [video_id] and queued["total"] == 1
        assert httpx.delete(f"{base}/videos/{video_id}", headers=AUTH).status_code == 409

        # A worker's flow run, here in this process, writes the same PostgreSQL catalog.
        vidp_env(VIDP_CATALOG_URL=url)
        process_video(
            source=uploaded["source"],
            output=str(tmp_path / "out"),
            options=ProcessOptions(resolutions=["360p"]),
        )
        done = httpx.get(f"{base}/videos/{video_id}", headers=AUTH).json()
        assert (done["status"], done["title"]) == ("completed", "Bus")
        assert done["manifest"]["video_id"] == video_id and done["manifest"]["animals"] == []
        gone = httpx.delete(
            f"{base}/videos/{video_id}", params={"delete_source": "true"}, headers=AUTH
        )
        assert gone.status_code == 204
        assert httpx.get(f"{base}/videos", headers=AUTH).json()["total"] == 0
    assert not Path(uploaded["source"]).exists(), "the upload goes too, when asked"
    assert not (tmp_path / "out" / video_id).exists()
