"""`vidp`: process a video from the terminal, or run the demo."""

from __future__ import annotations

import atexit
import importlib
import inspect
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    Callable,
    NoReturn,
    Optional,
    TextIO,
    get_args,
    get_origin,
)

import typer
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from rich.console import Console
from rich.table import Table

from vidp.errors import RejectedInput
from vidp.memory import limit_malloc_arenas
from vidp.options import ProcessOptions
from vidp.side_by_side import share_cores, side_by_side

if TYPE_CHECKING:  # loaded by the run itself: the CLI starts without it
    from vidp.manifest import Manifest

__all__ = ["app"]

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="vidp: one video in, every analysis out (Prefect flow `process-video`).",
)
err = Console(stderr=True)


@app.callback()
def _offline_by_default() -> None:
    # Prefect's analytics stay off unless the user turned them on: many machines that run this
    # have no internet, and a failed send prints an error on stderr.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


# Flags that read better than the field's name: one rendition per --resolution, repeated.
_FLAGS = {"resolutions": ("--resolution", "-r")}


def _option(name: str, field: FieldInfo) -> inspect.Parameter:
    """The CLI option for one ProcessOptions field: its name, type or choices, description and
    default; not given, the field's default applies."""
    kind, listed = field.annotation, get_origin(field.annotation) is list
    default = field.get_default(call_default_factory=True)
    shown = ", ".join(default) if listed else (default if default not in ("", None) else "empty")
    help_ = f"{field.description} (default: {shown})"
    if listed:  # Typer takes lists of plain types only: pydantic checks the items' choices
        kind = list[str]
        help_ += f" Repeat for several: {' | '.join(get_args(get_args(field.annotation)[0]))}."
    option = typer.Option(
        *_FLAGS.get(name, (f"--{name.replace('_', '-')}",)), help=help_, show_default=False
    )
    annotation = Annotated[Optional[kind], option]  # type: ignore[valid-type]
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation
    )


def _with_process_options(command: Callable[..., None]) -> Callable[..., None]:
    """`command`, taking one option per ProcessOptions field in its `**options`."""
    fixed = inspect.signature(command, eval_str=True).parameters.values()
    params = [p for p in fixed if p.kind is not p.VAR_KEYWORD]
    params += [_option(name, field) for name, field in ProcessOptions.model_fields.items()]
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return command


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
def _prefect_api(meanwhile: Callable[[], None]) -> Iterator[None]:
    """Reach Prefect as the user set it up (PREFECT_API_URL); else through a server already
    running here, so that repeated runs pay no start-up; else through a temporary server of
    Prefect's, started at once so that it comes up while `meanwhile` runs."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield
    elif local := _local_server():
        with temporary_settings(updates={PREFECT_API_URL: local}):
            yield
    else:
        from vidp.cli.temporary_api import TemporaryAPI

        server = TemporaryAPI()
        try:
            meanwhile()
            if not server.wait():
                raise _Failed(
                    1,
                    "vidp: failed: Prefect's temporary API server did not start; run `prefect "
                    "server start --background`, or set PREFECT_API_URL",
                )
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


@contextmanager
def _heartbeats_where_watched() -> Iterator[None]:
    """Flow-run heartbeats only where something watches for them: an automation on the server
    that listens for them (`vidp deploy`'s crash detection, or the user's own), or
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY set by the user. Prefect 3.9 sends them by default, and
    at the end of every flow run its engine waits for the heartbeat thread's one-second sleep
    to end: up to a second per video (a 0.1 s flow takes 1.1 s), for events nobody reads."""
    from prefect.settings import (
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        get_current_settings,
        temporary_settings,
    )

    set_by_user = "heartbeat_frequency" in get_current_settings().flows.model_fields_set
    if set_by_user or _heartbeats_watched():
        yield
    else:
        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            yield


def _heartbeats_watched() -> bool:
    """Whether an automation on the API's server has a trigger on flow-run heartbeats (or the
    automations cannot be read: an API key without the right to, say)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import PrefectHTTPStatusError

    with get_client(sync_client=True) as client:
        try:
            automations = client.read_automations()
        except PrefectHTTPStatusError:
            return True
    return any(_HEARTBEAT_EVENT in a.trigger.model_dump_json() for a in automations)


_HEARTBEAT_EVENT = "prefect.flow-run.heartbeat"

# Exit codes from best to worst: published, rejected (the input's fault), failed.
_SEVERITY = (0, 2, 1)


class _Failed(Exception):
    """The run did not complete: exit with `code` after printing `line` alone on stderr."""

    def __init__(self, code: int, line: str) -> None:
        super().__init__(line)
        self.code, self.line = code, line


def _run(
    sources: list[str], output: str | None, options: ProcessOptions, refresh: bool
) -> Iterator[Manifest | _Failed]:
    """Run the flow once per source in this process, each its own flow run (the models loaded
    once), two videos side by side (`side_by_side`); yield each manifest in the order given,
    or _Failed (code 2 when the input is rejected) for a run that did not complete. _Failed is
    raised when Prefect cannot be reached. `refresh`: --refresh-cache."""
    limit_malloc_arenas()
    share_cores(len(sources))
    early = _start_loading_early(sources[0], refresh)
    with _prefect_api(lambda: _prepare(options, early)), _heartbeats_where_watched():
        from vidp.flows.process_video import process_video

        _quiet_console()

        def one(source: str) -> Manifest | _Failed:
            state = process_video(source=source, output=output, options=options, return_state=True)
            if state.is_completed():
                return state.result()
            error = state.result(raise_on_failure=False)
            if isinstance(error, RejectedInput):
                return _Failed(2, f"vidp: rejected: {error}")
            return _Failed(1, f"vidp: failed: {error}")

        yield from side_by_side(one, sources)


def _start_loading_early(first: str, refresh: bool) -> bool:
    """Whether the first video loads its models early (`load_early`); if so, the quality gate's
    process starts now: its great-expectations imports (3 s of one core) take the core this
    process leaves idle while it imports Prefect and the flow (about 1.5 s), server or none."""
    from vidp.preload import load_early
    from vidp.quality import start_checker

    if not load_early(first, refresh):
        return False
    start_checker()
    return True


def _prepare(options: ProcessOptions, early: bool) -> None:
    """Load the flow's modules, and Whisper and the detector if the first video loads its
    models early, while Prefect's temporary API starts (with a server already up nothing
    waits, and the flow loads them itself)."""
    importlib.import_module("vidp.flows.process_video")
    if early:
        from vidp.analysis import AnalysisModels
        from vidp.preload import preload
        from vidp.settings import get_settings

        models = AnalysisModels.resolve(options, get_settings())
        preload(models.detector_weights, gate_process=True, whisper_model=models.whisper_model)


class _ConsoleFilter(logging.Filter):
    """No traceback for a rejected input (its one-line reason follows; the API's log handler
    has sent it to the run's logs already). No notice that Prefect's event and log workers
    still hold items as they are drained at exit: the command waits for their delivery, and
    the line would end most runs (their last events are a few milliseconds old)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], RejectedInput):
            record.exc_info = record.exc_text = None
        return not (
            record.name in ("EventsWorker", "APILogWorker")
            and record.getMessage().startswith("Still processing items")
        )


def _quiet_console() -> None:
    """Filter Prefect's console log (`_ConsoleFilter`); the run's logs in Prefect keep all."""
    from prefect.logging.handlers import PrefectConsoleHandler

    for handler in logging.getLogger().handlers:
        if isinstance(handler, PrefectConsoleHandler):
            handler.addFilter(_ConsoleFilter())


def _print_line(line: str, console: Console = err) -> None:
    console.print(line, markup=False, highlight=False, soft_wrap=True)


def _exit_now(code: int) -> NoReturn:
    """Exit as soon as Prefect has delivered the run's last events and logs and stopped any
    server it started (its exit handlers), without unloading torch, great-expectations and the
    rest module by module: that alone takes a second and a half."""
    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(code)


@contextmanager
def _quiet_output() -> Iterator[tuple[TextIO, Console]]:
    """Drop everything written to fd 1 and 2 meanwhile, by Python or native code (TFLite, for
    one) and by the processes started; the run's logs reach Prefect. Yields the real stdout
    and stderr, for the lines meant for the user."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(os.devnull, "wb") as null:
        os.dup2(null.fileno(), 1)
        os.dup2(null.fileno(), 2)
    try:
        with (
            os.fdopen(saved[0], "w", closefd=False) as out,
            os.fdopen(saved[1], "w", closefd=False) as errors,
        ):
            yield out, Console(file=errors)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in enumerate(saved, start=1):
            os.dup2(copy, fd)
            os.close(copy)


def _folder(uri: str) -> str:
    """The folder or prefix that holds a published output (a path or an s3:// URI)."""
    return uri.rsplit("/", 1)[0]


def _summary(manifest: Manifest) -> None:
    table = Table(title=f"{manifest.source.filename} → {manifest.video_id}", show_header=False)
    lang = manifest.language
    table.add_row("language", f"{lang.code or 'none'} ({lang.method})")
    if len({s.code for s in manifest.languages}) > 1:
        table.add_row(
            "languages",
            ", ".join(f"{s.code} {s.start_s:.1f}–{s.end_s:.1f} s" for s in manifest.languages),
        )
    animals = ", ".join(
        f"{a.label} ({a.first_seen_s:g}–{a.last_seen_s:g} s)" for a in manifest.animals
    )
    table.add_row("animals", animals or "none")
    untranscribed = manifest.transcript.untranscribed
    lost = sum(s.end_s - s.start_s for s in untranscribed or [])
    table.add_row(
        "transcript",
        f"{manifest.transcript.words} words"
        + (f" ([yellow]{lost:.1f} s of speech without words[/])" if lost else ""),
    )
    final = manifest.final_video
    table.add_row("final video", f"{final.uri} ({final.width}x{final.height}, {final.subtitles})")
    table.add_row("manifest", manifest.uri)
    table.add_row("total", f"{manifest.timings_s.total:.1f} s")
    Console().print(table)


@app.command()
@_with_process_options
def process(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Videos to process: local paths, file:// URIs or s3://bucket/keys. Several are "
            "processed in this process, two side by side, each its own flow run.",
            show_default=False,
        ),
    ],
    output: Annotated[
        Optional[str],
        typer.Option(
            "--output", "-o", help="Where results go (env VIDP_OUTPUT, default ./vidp-output)."
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print each video's manifest on stdout, one JSON per line."),
    ] = False,
    refresh_cache: Annotated[
        bool, typer.Option(help="Recompute every step instead of reusing cached results.")
    ] = False,
    **given: Any,
) -> None:
    """Process videos: animals, language, transcript, subtitles, renditions, final video.

    A video that is rejected or fails does not stop the others. Exit code: 0 when every video
    was published, 2 when some were rejected (bad input) and none failed, 1 when any failed.
    """
    try:
        options = ProcessOptions(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(map(str, first["loc"]))
        _print_line(f"vidp: invalid option {where}: {first['msg']}")
        raise typer.Exit(2) from None
    if refresh_cache:
        os.environ["PREFECT_TASKS_REFRESH_CACHE"] = "true"
    codes = [0]
    try:
        if as_json:  # stdout carries the manifests alone, stderr a failure's one line alone
            os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
            try:
                with _quiet_output() as (stdout, stderr):
                    for result in _run(sources, output, options, refresh_cache):
                        if isinstance(result, _Failed):
                            codes.append(result.code)
                            _print_line(result.line, stderr)
                        else:
                            stdout.write(result.to_json(indent=None) + "\n")
                            stdout.flush()
            finally:
                logging.disable(logging.CRITICAL)  # exit-time notices would add lines
        else:
            for result in _run(sources, output, options, refresh_cache):
                if isinstance(result, _Failed):
                    codes.append(result.code)
                    _print_line(result.line)
                else:
                    _summary(result)
    except _Failed as failed:
        _print_line(failed.line)
        codes.append(failed.code)
    except KeyboardInterrupt:  # now, not once the videos running side by side have ended
        _print_line("vidp: interrupted")
        _exit_now(130)
    _exit_now(max(codes, key=_SEVERITY.index))


@contextmanager
def _prefect_api_answers() -> Iterator[None]:
    """A Prefect API that does not answer is one line and exit code 1, not a traceback."""
    import httpx

    try:
        yield
    except httpx.ConnectError as error:
        from prefect.settings import PREFECT_API_URL

        _print_line(
            f"vidp: cannot reach the Prefect API at {PREFECT_API_URL.value()} ({error}): start "
            "one (prefect server start; prefect server status --wait) or set PREFECT_API_URL"
        )
        raise typer.Exit(1) from None


@app.command()
def blocks() -> None:
    """Create or update vidp's Prefect blocks from AWS_* and VIDP_* variables (idempotent)."""
    from vidp.blocks.register import register_blocks

    with _prefect_api_answers():
        for slug in register_blocks():
            Console().print(f"saved block {slug}", highlight=False)


@app.command()
def gateway(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the webhook, upload and catalog API (OpenAPI at /docs) with uvicorn."""
    from vidp.gateway.server import serve

    serve(host, port)


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
    from vidp.deployments.pools import ensure_pools, model_limit

    if pool_type not in ("process", "docker", "kubernetes"):
        raise typer.BadParameter("use process, docker or kubernetes", param_hint="--type")
    with _prefect_api_answers():
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
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    from vidp.deployments.deploy import deploy as run_deploy

    if PREFECT_API_URL.value():  # fail here in one line rather than in `prefect deploy`
        with _prefect_api_answers(), get_client(sync_client=True) as client:
            if (error := client.api_healthcheck()) is not None:
                raise error
    try:
        run_deploy(project, name)
    except subprocess.CalledProcessError as failed:
        _print_line(f"vidp: prefect deploy failed (exit code {failed.returncode}), see above")
        raise typer.Exit(1) from None


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
    _print_line(f"sample video: {sample}")
    try:
        (manifest,) = _run([str(sample)], output, ProcessOptions(), refresh=False)
    except _Failed as failed:
        _print_line(failed.line)
        raise typer.Exit(failed.code) from None
    if isinstance(manifest, _Failed):
        _print_line(manifest.line)
        raise typer.Exit(manifest.code)
    _summary(manifest)
    _print_line(f"results are in {_folder(manifest.final_video.uri)}")
