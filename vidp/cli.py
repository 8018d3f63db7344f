"""`vidp`: process a video from the terminal, or run the demo."""

from __future__ import annotations

import atexit
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from vidp.errors import RejectedInput
from vidp.memory import limit_malloc_arenas
from vidp.options import ProcessOptions

__all__ = ["app"]

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="vidp: one video in, every analysis out (Prefect flow `process-video`).",
)
err = Console(stderr=True)

_FIELDS = ProcessOptions.model_fields


def _help(name: str) -> str:
    field = _FIELDS[name]
    default = field.default_factory() if field.default_factory else field.default
    return f"{field.description} (env VIDP_{name.upper()}, default {default})"


def _local_server() -> str | None:
    """The API of a Prefect server already running at this machine's configured address
    (`prefect server start`, with `--background` or not), or None."""
    import httpx
    from prefect.settings import PREFECT_SERVER_API_HOST, PREFECT_SERVER_API_PORT

    host = PREFECT_SERVER_API_HOST.value()
    host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    url = f"http://{host}:{PREFECT_SERVER_API_PORT.value()}/api"
    try:
        return url if httpx.get(f"{url}/health", timeout=2).is_success else None
    except httpx.HTTPError:
        return None


@contextmanager
def _prefect_api() -> Iterator[None]:
    """Reach Prefect as the user set it up (PREFECT_API_URL); else through a server already
    running here, so that repeated runs pay no start-up; else through a temporary server of
    Prefect's, started at once so that it comes up while the pipeline's modules load."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield
    elif local := _local_server():
        with temporary_settings(updates={PREFECT_API_URL: local}):
            yield
    else:
        from vidp.temporary_api import TemporaryAPI

        server = TemporaryAPI()
        try:
            import flows.process_video  # noqa: F401  (loads meanwhile)

            if not server.wait():
                err.print(
                    "vidp: failed: Prefect's temporary API server did not start (its error is "
                    "above); run `prefect server start --background`, or set PREFECT_API_URL",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
                raise typer.Exit(1)
            with temporary_settings(updates={PREFECT_API_URL: server.url}):
                yield
                _deliver_logs_and_events()
        finally:
            server.stop()


def _deliver_logs_and_events() -> None:
    """Send the run's last logs and events while the server that takes them is up: at exit,
    Prefect stops its temporary server first, and the log handler then retries for 5 s."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=5)
    EventsWorker.drain_all(timeout=5)


def _run(source: str, output: str | None, options: ProcessOptions) -> dict[str, Any]:
    """Run the flow in this process; exit 2 with one line when the input is rejected."""
    limit_malloc_arenas()
    with _prefect_api():
        from flows.process_video import process_video

        state = process_video(source=source, output=output, options=options, return_state=True)
        if state.is_completed():
            return state.result()
        error = state.result(raise_on_failure=False)
    if isinstance(error, RejectedInput):
        err.print(f"vidp: rejected: {error}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    err.print(f"vidp: failed: {error}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _exit_now(code: int) -> NoReturn:
    """Exit as soon as Prefect has delivered the run's last events and logs and stopped any
    server it started (its exit handlers), without unloading torch, great-expectations and the
    rest module by module: that alone takes a second and a half."""
    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(code)


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send everything written to fd 1, by Python or native code, to fd 2 meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _folder(uri: str) -> str:
    """The folder or prefix that holds a published output (a path or an s3:// URI)."""
    return uri.rsplit("/", 1)[0]


def _summary(manifest: dict[str, Any]) -> None:
    from vidp.manifest import manifest_uri

    table = Table(
        title=f"{manifest['source']['filename']} → {manifest['video_id']}", show_header=False
    )
    lang = manifest["language"]
    table.add_row("language", f"{lang['code'] or 'none'} ({lang['method']})")
    animals = ", ".join(
        f"{a['label']} ({a['first_seen_s']:g}–{a['last_seen_s']:g} s)" for a in manifest["animals"]
    )
    table.add_row("animals", animals or "none")
    table.add_row("transcript", f"{manifest['transcript']['words']} words")
    final = manifest["final_video"]
    table.add_row(
        "final video", f"{final['uri']} ({final['width']}x{final['height']}, {final['subtitles']})"
    )
    table.add_row("manifest", manifest_uri(manifest))
    table.add_row("total", f"{manifest['timings_s']['total']:.1f} s")
    Console().print(table)


@app.command()
def process(
    source: Annotated[
        str, typer.Argument(help="Video to process: a local path, file:// URI or s3://bucket/key.")
    ],
    output: Annotated[
        Optional[str],
        typer.Option(
            "--output", "-o", help="Where results go (env VIDP_OUTPUT, default ./vidp-output)."
        ),
    ] = None,
    resolution: Annotated[
        Optional[list[str]],
        typer.Option("--resolution", "-r", help=_help("resolutions") + " Repeat for several."),
    ] = None,
    subtitles: Annotated[Optional[str], typer.Option(help=_help("subtitles"))] = None,
    language: Annotated[Optional[str], typer.Option(help=_help("language"))] = None,
    language_backend: Annotated[Optional[str], typer.Option(help=_help("language_backend"))] = None,
    sample_fps: Annotated[Optional[float], typer.Option(help=_help("sample_fps"))] = None,
    min_confidence: Annotated[Optional[float], typer.Option(help=_help("min_confidence"))] = None,
    crf: Annotated[Optional[int], typer.Option(help=_help("crf"))] = None,
    preset: Annotated[Optional[str], typer.Option(help=_help("preset"))] = None,
    thumbnails: Annotated[Optional[int], typer.Option(help=_help("thumbnails"))] = None,
    detector_weights: Annotated[Optional[str], typer.Option(help=_help("detector_weights"))] = None,
    whisper_model: Annotated[Optional[str], typer.Option(help=_help("whisper_model"))] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the manifest as JSON on stdout.")
    ] = False,
    refresh_cache: Annotated[
        bool, typer.Option(help="Recompute every step instead of reusing cached results.")
    ] = False,
) -> None:
    """Process one video: animals, language, transcript, subtitles, renditions, final video."""
    given = {
        "resolutions": resolution,
        "subtitles": subtitles,
        "language": language,
        "language_backend": language_backend,
        "sample_fps": sample_fps,
        "min_confidence": min_confidence,
        "crf": crf,
        "preset": preset,
        "thumbnails": thumbnails,
        "detector_weights": detector_weights,
        "whisper_model": whisper_model,
    }
    try:
        options = ProcessOptions(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(map(str, first["loc"]))
        err.print(f"vidp: invalid option {where}: {first['msg']}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    if refresh_cache:
        os.environ["PREFECT_TASKS_REFRESH_CACHE"] = "true"
    if as_json:  # stderr carries only the one-line reason when something goes wrong
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")
    try:
        if as_json:
            try:
                with _stdout_to_stderr():  # libraries print; stdout carries the manifest alone
                    manifest = _run(source, output, options)
            finally:
                logging.disable(logging.CRITICAL)  # exit-time notices would break one line
            sys.stdout.write(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        else:
            _summary(_run(source, output, options))
    except typer.Exit as done:
        _exit_now(done.exit_code)
    _exit_now(0)


@app.command()
def blocks() -> None:
    """Create or update vidp's Prefect blocks from AWS_* and VIDP_* variables (idempotent)."""
    from blocks.register import register_blocks

    for slug in register_blocks():
        Console().print(f"saved block {slug}", highlight=False)


@app.command()
def gateway(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the webhook, upload and catalog API (OpenAPI at /docs) with uvicorn."""
    import uvicorn

    uvicorn.run("gateway.app:create_app", factory=True, host=host, port=port, proxy_headers=True)


catalog_app = typer.Typer(no_args_is_help=True, help="The video catalog's database.")
app.add_typer(catalog_app, name="catalog")


@catalog_app.command("upgrade")
def catalog_upgrade() -> None:
    """Create or migrate the catalog's schema at VIDP_CATALOG_URL (idempotent)."""
    from sqlalchemy.engine import make_url

    from vidp.catalog import catalog_url, upgrade

    url = catalog_url()
    revision = upgrade(url)
    Console().print(f"catalog {make_url(url)} at schema {revision}", highlight=False)


@app.command()
def pools(
    pool_type: Annotated[
        str, typer.Option("--type", help="process, docker or kubernetes.")
    ] = "process",
) -> None:
    """Create or update the CPU and GPU work pools from deployments/work-pools/ (idempotent)."""
    from deployments.pools import ensure_pools, model_limit

    if pool_type not in ("process", "docker", "kubernetes"):
        raise typer.BadParameter("use process, docker or kubernetes", param_hint="--type")
    for name in ensure_pools(pool_type):  # type: ignore[arg-type]
        Console().print(
            f"work pool {name} ({pool_type}) ready, model limit {model_limit(name)}",
            highlight=False,
        )


@app.command()
def deploy(
    name: Annotated[
        Optional[list[str]],
        typer.Option("--name", "-n", help="flow/deployment; repeat. [default: all]"),
    ] = None,
    project: Annotated[Path, typer.Option(help="The folder with prefect.yaml.")] = Path("."),
) -> None:
    """Register prefect.yaml's deployments; unset VIDP_* variables get their defaults."""
    from deployments.deploy import deploy as run_deploy

    run_deploy(project, name)


@app.command()
def demo(
    output: Annotated[
        Optional[str], typer.Option("--output", "-o", help="Where results go.")
    ] = None,
) -> None:
    """Make a 12 s sample video (a cat, an English sentence) and process it."""
    from vidp.sample import make_demo_video

    sample = Path(tempfile.mkdtemp(prefix="vidp-demo-")) / "vidp demo: cat & speech.mp4"
    make_demo_video(sample)
    err.print(f"sample video: {sample}", markup=False, highlight=False, soft_wrap=True)
    manifest = _run(str(sample), output, ProcessOptions())
    _summary(manifest)
    err.print(
        f"results are in {_folder(manifest['final_video']['uri'])}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


if __name__ == "__main__":
    app()
