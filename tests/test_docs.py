"""The docs match the code: every option and setting is in the reference, every link resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers.repo import REPO

from vidp.gateway.settings import GatewaySettings
from vidp.options import ProcessOptions
from vidp.settings import Settings

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
REFERENCE = (REPO / "docs" / "reference.md").read_text()


def _section(text: str, heading: str) -> str:
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def _first_column(table: str) -> set[str]:
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([^`]+)`", row.split("|")[1])}


def test_every_processing_option_is_in_the_reference() -> None:
    documented = _first_column(_section(REFERENCE, "Processing options"))
    assert documented == set(ProcessOptions.model_fields)


@pytest.mark.parametrize(
    ("settings", "prefix", "heading"),
    [
        (Settings, "VIDP_", "Machine settings"),
        (GatewaySettings, "VIDP_GATEWAY_", "Gateway settings"),
    ],
)
def test_every_setting_is_in_the_reference(settings, prefix: str, heading: str) -> None:
    documented = _first_column(_section(REFERENCE, heading))
    expected = {prefix + name.upper() for name in settings.model_fields}
    assert expected <= documented, expected - documented


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_link_resolves(doc: Path) -> None:
    for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        assert file.exists(), f"{doc.name}: {target}"
        if anchor:
            headings = re.findall(r"^#+ (.+)$", file.read_text(), flags=re.M)
            assert anchor in {_anchor(h) for h in headings}, f"{doc.name}: {target}"


def test_the_architecture_note_names_files_and_names_that_exist() -> None:
    note = (REPO / "docs" / "architecture.md").read_text()
    paths = set(re.findall(r"`((?:vidp|flows|tasks|gateway|cli|deployments)/[\w/]+\.py)", note))
    assert paths and not {p for p in paths if not (REPO / p).is_file()}
    for path in paths:  # a name said to be in a module is defined there
        for name in re.findall(rf"`{re.escape(path)}`'s `(\w+)`", note):
            assert re.search(rf"^(class|def) {name}\b|^{name} = ", (REPO / path).read_text(), re.M)
