"""The `seedance` command line.

Prefect is imported only by the commands that run flows, and the local gateway only by
`seedance gateway ...` and `seedance demo`, so `seedance models` starts fast.
"""

from __future__ import annotations

import atexit
import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from cli.blocks import app as blocks_app
from cli.watch import watch
from seedance.catalog import DEFAULT_MODEL, ModelSpec, catalog
from seedance.errors import SeedanceError

if TYPE_CHECKING:
    from seedance.ark.dialects import Dialect

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Seedance video generation, as a dependable pipeline.")
app.add_typer(blocks_app, name="blocks")
app.command()(watch)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    help="The local Ark-compatible gateway (`seedance gateway serve --help`).",
)
def gateway(ctx: typer.Context) -> None:
    """Hand the rest of the command line to the local gateway's own CLI, imported only now."""
    from local_gateway.cli import app as gateway_app

    gateway_app(args=ctx.args, prog_name="seedance gateway")


_err = Console(stderr=True, soft_wrap=True)

GatewayOption = Annotated[
    str | None,
    typer.Option("--gateway", help="Saved SeedanceGateway block; default: ARK_BASE_URL / ARK_API_KEY / SEEDANCE_DIALECT."),
]
BucketOption = Annotated[
    str | None, typer.Option("--bucket", help="Saved S3Bucket block; default: SEEDANCE_BUCKET and boto3's AWS_* variables.")
]


def _print_last_at_exit() -> list[str]:
    """Lines to print when the interpreter exits, after Prefect's own exit-time log lines.

    Registered before any Prefect API server starts: exit handlers run last-in first-out, so the
    temporary server says goodbye first and our result really is the last line.
    """
    lines: list[str] = []
    atexit.register(lambda: print(*lines, sep="\n", flush=True) if lines else None)
    return lines


def _environment_gateway() -> tuple[str, Dialect]:
    """Default model and dialect of the gateway the environment names, for checks before Prefect starts."""
    from blocks.gateway import SeedanceGateway

    block = SeedanceGateway.from_environment()
    return block.default_model, block.get_dialect()


def _fail(exc: BaseException, code: int = 1) -> NoReturn:
    """One clear line on stderr, no traceback.

    The message is escaped, not read as markup (it starts with the gateway's name in brackets),
    and its line breaks (an API's message may have some) become spaces.
    """
    message = escape(" ".join(str(exc).splitlines()))
    _err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    raise typer.Exit(code)


@app.command()
def generate(
    spec_file: Annotated[
        Path, typer.Argument(help="A YAML or JSON spec: an Ark request body whose media URLs may be local paths.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for the video, poster and result.json.")],
    gateway: GatewayOption = None,
    bucket: BucketOption = None,
    name: Annotated[str | None, typer.Option(help="Stem of the output files; default: the spec file's.")] = None,
    again: Annotated[
        bool, typer.Option("--again", help="Pay for a new generation even if this spec already ran on this gateway.")
    ] = False,
    budget: Annotated[str | None, typer.Option(help='Refuse to submit if the estimate exceeds this, e.g. "20 CNY".')] = None,
) -> None:
    """Run the generate-video flow for one spec; the MP4's absolute path is the last line printed."""
    from seedance.spec import load_spec

    last = _print_last_at_exit()
    try:
        spec = load_spec(spec_file)
        if gateway is None:
            spec.preflight(*_environment_gateway())
        elif spec.model:
            spec.preflight(spec.model)
    except SeedanceError as exc:
        _fail(exc, 2)

    from flows.generate import generate_video

    try:
        result = generate_video(
            spec=spec,
            out_dir=out,
            gateway=gateway,
            bucket=bucket,
            name=name or spec.name or spec_file.stem,
            salt=uuid.uuid4().hex if again else None,
            budget=budget,
        )
    except SeedanceError as exc:
        _fail(exc)
    last.append(str(result.files.video))


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the demo video and its logs.")] = Path("out/demo"),
) -> None:
    """Run the pipeline end to end on this machine (local S3 + local gateway); prints the MP4 path last."""
    from cli.demo import run_demo

    last = _print_last_at_exit()
    try:
        result = run_demo(out.resolve())
    except SeedanceError as exc:
        _fail(exc)
    last.append(str(result.files.video))


@app.command()
def batch(
    manifest: Annotated[Path, typer.Argument(help="A manifest: `defaults:` and `items:` (specs or spec files).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the videos, one sub-folder per item.")],
    gateway: GatewayOption = None,
    bucket: BucketOption = None,
    budget: Annotated[str | None, typer.Option(help='Refuse to submit items past this, e.g. "100 CNY".')] = None,
) -> None:
    """Generate every item of a manifest, polled together; prints each video's path, one per line."""
    from seedance.manifest import load_manifest

    last = _print_last_at_exit()
    try:
        items = load_manifest(manifest)
    except SeedanceError as exc:
        _fail(exc, 2)

    from flows.batch import generate_batch

    try:
        result = generate_batch(items=items, out_dir=out, gateway=gateway, bucket=bucket, budget=budget)
    except SeedanceError as exc:
        _fail(exc)
    last.extend(str(item.result.files.video) for item in result.items if item.result)
    failed = [item for item in result.items if item.result is None]
    for item in failed:
        _err.print(f"[bold red]failed:[/] {item.name}: {item.error}", markup=True, highlight=False)
    if failed:
        raise typer.Exit(1)


@app.command()
def storyboard(
    storyboard_file: Annotated[Path, typer.Argument(help="A storyboard: `defaults:`, optional `first_frame:`, and `shots:`.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the shots and the final video.")],
    gateway: GatewayOption = None,
    bucket: BucketOption = None,
) -> None:
    """Generate shots that continue one another and cut them into one video; its path is printed last."""
    from seedance.storyboard import load_storyboard

    last = _print_last_at_exit()
    try:
        board = load_storyboard(storyboard_file)
        if gateway is None:
            board.preflight(*_environment_gateway())
    except SeedanceError as exc:
        _fail(exc, 2)

    from flows.storyboard import storyboard as storyboard_flow

    try:
        result = storyboard_flow(board=board, out_dir=out, gateway=gateway, bucket=bucket, name=storyboard_file.stem)
    except SeedanceError as exc:
        _fail(exc)
    last.append(str(result.video))


@app.command()
def estimate(
    spec_or_manifest: Annotated[Path, typer.Argument(help="A spec file, or a manifest with `defaults:` and `items:`.")],
    model: Annotated[str, typer.Option(help="Model for specs that name none.")] = DEFAULT_MODEL,
) -> None:
    """Tokens and cost per item and in total, from the price file; no network."""
    from seedance.cost.report import estimate_file, render_report

    try:
        report = estimate_file(spec_or_manifest, model)
    except SeedanceError as exc:
        _fail(exc, 2)
    _print_table(render_report(report))


@app.command()
def models(
    as_json: Annotated[bool, typer.Option("--json", help="Every catalog field of every model, as JSON.")] = False,
) -> None:
    """The known Seedance models and what each accepts (the bundled catalog and SEEDANCE_MODELS_FILE).

    A value marked * is inferred (third parties, one observation); the rest were seen in vendor material.
    """
    try:
        known = catalog()
    except SeedanceError as exc:
        _fail(exc, 2)
    if as_json:
        typer.echo(json.dumps([spec.model_dump(mode="json") for spec in known.models.values()], indent=2))
        return
    table = Table("model id", "BytePlus id", "resolutions", "durations", "modes", "references", "audio", "task types")
    for column in table.columns[:2]:
        column.overflow = "fold"  # an id cut short with "…" is no id: fold it instead
    for spec in known.models.values():

        def mark(field: str, text: str, spec: ModelSpec = spec) -> str:
            return text + ("*" if field in spec.inferred else "")

        references = (
            f"{spec.max_reference_images} img / {spec.max_reference_videos} vid / {spec.max_reference_audios} aud"
            if spec.max_reference_images or spec.media_references
            else "—"
        )
        table.add_row(
            spec.id,
            spec.byteplus_id,
            mark("resolutions", ", ".join(spec.resolutions)),
            mark("max_duration", spec.durations()),
            ", ".join(sorted(mode.value for mode in spec.modes)),
            mark("max_reference_images", references),
            "yes" if spec.generate_audio else "no",
            mark("task_types", ", ".join(spec.task_types) or "—"),
        )
    table.caption = f"* inferred, not seen in vendor material · catalog: {known.origin}"
    table.caption_justify = "left"
    _print_table(table)


def _print_table(table: Table) -> None:
    """Print a table whole: at the terminal's width, or at its natural width when piped."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=Measurement.get(console, console.options.update_width(10_000), table).maximum)
    console.print(table)
