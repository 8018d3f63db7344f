"""The Prefect Cloud webhook template turns bucket notifications into the event that
process-video/default's trigger starts a run for. Rendered with Prefect's own sandboxed template
renderer, matched with Prefect's own resource matching."""

from __future__ import annotations

import json

import pytest
import yaml
from helpers.repo import REPO
from prefect.events.schemas.events import Event, ResourceSpecification
from prefect.server.utilities.user_templates import render_user_template_sync

TEMPLATE = (REPO / "deployments" / "webhooks" / "s3-upload-event.json.j2").read_text()


def trigger() -> dict:
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    (deployment,) = [d for d in spec["deployments"] if d["entrypoint"].endswith(":process_video")]
    return deployment["triggers"][0]


def notification(minio: bool) -> dict:
    record = {
        "eventName": "s3:ObjectCreated:Put" if minio else "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": "media"},
            "object": {"key": "in/holiday+2026/cat+%26+dog.mp4", "eTag": "d41d8cd9", "size": 10},
        },
    }
    return (
        {"EventName": record["eventName"], "Records": [record]} if minio else {"Records": [record]}
    )


@pytest.mark.parametrize("minio", [False, True], ids=["aws", "minio"])
def test_a_notification_becomes_the_upload_event_the_trigger_expects(minio: bool) -> None:
    body = notification(minio)
    rendered = render_user_template_sync(
        TEMPLATE, {"body": body, "headers": {}, "raw_body": json.dumps(body)}
    )
    event = Event.model_validate(json.loads(rendered))
    spec = trigger()
    assert event.event in spec["expect"]
    assert ResourceSpecification(spec["match"]).matches(event.resource)
    parameters = {
        name: render_user_template_sync(value, {"event": event})
        for name, value in spec["parameters"].items()
    }
    # Spaces (sent as '+') are decoded; other escapes stay as S3 sent them (see the README).
    assert parameters == {"source": "s3://media/in/holiday 2026/cat %26 dog.mp4"}
