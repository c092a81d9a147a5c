"""The `seedance` command line.

Each command imports what it needs when it runs: Prefect only where a flow or block is used, the
local gateway only for `seedance gateway ...` and `seedance demo`, so `seedance models` and
`seedance list` start fast. Flows run against one Prefect API (`cli.server`): `PREFECT_API_URL`,
else a local server every command shares. Results go to stdout (the video's path last, or JSON
with `--json`); progress, warnings and errors go to stderr.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import signal
import threading
import uuid
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cli import generations
from cli.blocks import app as blocks_app
from cli.callbacks import app as callbacks_app
from cli.errors import fail, quiet_prefect_exit, stderr
from cli.output import print_table
from cli.server import app as server_app
from cli.watch import watch
from seedance.catalog import DEFAULT_MODEL, ModelSpec, catalog
from seedance.errors import SeedanceError

if TYPE_CHECKING:
    from blocks.gateway import SeedanceGateway
    from cli.demo import LocalStack
    from cli.prepare import Generation
    from seedance.cost.estimate import Estimate
    from seedance.results import GenerationResult

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Seedance video generation, as a dependable pipeline.")
app.add_typer(blocks_app, name="blocks")
app.add_typer(server_app, name="server")
app.add_typer(callbacks_app, name="callbacks")


@app.callback()
def before_every_command() -> None:
    """Prefect's telemetry off unless the user set it: no one asked to be tracked, and without
    internet access Prefect's attempts end in errors on the console. Prefect's progress lines at
    exit are dropped (`quiet_prefect_exit`), so that an error stays the last thing printed.

    And a quick exit: the interpreter's last garbage collection walks every object Prefect and
    pydantic made, 0.35-0.4 s of CPU after the command is done (measured with the batch flow
    imported). Frozen objects are left out of it; those not in a reference cycle are still freed
    one by one, and the atexit handlers registered after this one (Prefect's last flush of logs and
    events, registered as the command imports Prefect) run before it.
    """
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    quiet_prefect_exit()
    atexit.register(gc.freeze)


app.command()(watch)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    help="The local Ark-compatible gateway (`seedance gateway serve --help`).",
)
def gateway(ctx: typer.Context) -> None:
    """Hand the rest of the command line to the local gateway's own CLI, imported only now."""
    from local_gateway.cli import app as gateway_app

    gateway_app(args=ctx.args, prog_name="seedance gateway")


GatewayOption = Annotated[
    str | None,
    typer.Option("--gateway", help="Saved SeedanceGateway block; default: ARK_BASE_URL / ARK_API_KEY / SEEDANCE_DIALECT."),
]
BucketOption = Annotated[
    str | None, typer.Option("--bucket", help="Saved S3Bucket block; default: SEEDANCE_BUCKET and boto3's AWS_* variables.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON (and no progress).")]
DryRunOption = Annotated[
    bool,
    typer.Option(
        "--dry-run", help="Print the HTTP requests that would be sent (API key masked); upload, create and start nothing."
    ),
]


@app.command()
def generate(
    spec_file: Annotated[
        Path, typer.Argument(help="A YAML or JSON spec: an Ark request body whose media URLs may be local paths.")
    ],
    out: Annotated[
        str,
        typer.Option(
            "--out", help="Folder or s3://bucket/prefix; the video, poster and result.json go to <out>/<name>/<task id>/."
        ),
    ],
    gateway: GatewayOption = None,
    bucket: BucketOption = None,
    name: Annotated[str | None, typer.Option(help="Stem of the output files; default: the spec file's.")] = None,
    again: Annotated[
        bool, typer.Option("--again", help="Pay for a new generation even if this spec already ran on this gateway.")
    ] = False,
    budget: Annotated[str | None, typer.Option(help='Refuse to submit if the estimate exceeds this, e.g. "20 CNY".')] = None,
    as_json: JsonOption = False,
    dry_run: DryRunOption = False,
) -> None:
    """Run the generate-video flow for one spec; the video's location (a path or an s3:// URI) is the last line printed."""
    from cli.budget import over_budget
    from cli.prepare import open_gateway, plan_generations, preflight_spec
    from cli.resolve import bucket_block
    from cli.server import connect
    from seedance.spec import read_spec

    salt = uuid.uuid4().hex if again else None
    try:
        spec, unknown = read_spec(spec_file)
        block, api_url = open_gateway(gateway, dry_run=dry_run)
        preflight_spec(spec, unknown, block, spec_file)
        planned = plan_generations([(name or spec.name or spec_file.stem, spec)], block, salt)
        paid, resumed = _new_spend(planned, budget)
        over_budget(paid, budget, resumed=resumed)
        if dry_run:
            _dry_run(planned, block, bucket, as_json)
            return
        if not api_url:
            connect()
        if bucket or spec.uploads():  # a bucket named is checked even when unused: a typo is not ignored
            bucket_block(bucket)
    except SeedanceError as exc:
        fail(exc)

    from cli.run import print_summary, run_generations
    from flows.generate import generate_video

    [generation] = planned
    result = run_generations(
        planned,
        block,
        as_json,
        lambda: generate_video(
            spec=spec, out_dir=out, gateway=gateway, bucket=bucket, name=generation.name, salt=salt, budget=budget
        ),
    )
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    print_summary(generation.name, result)
    typer.echo(result.locations["video"])


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the demo video and its logs.")] = Path("out/demo"),
    keep: Annotated[
        bool,
        typer.Option("--keep", help="Keep the local gateway and S3 up after the video, with their blocks saved, until Ctrl-C."),
    ] = False,
) -> None:
    """Run the pipeline end to end on this machine (local S3 + local gateway); prints the MP4 path last."""
    from cli.demo import run_demo
    from cli.run import heartbeats_only_if_asked
    from cli.server import connect

    try:
        api = connect()
        with heartbeats_only_if_asked():
            result = run_demo(out.resolve(), then=partial(_keep_serving, api) if keep else None)
    except SeedanceError as exc:
        fail(exc)
    if not keep:
        typer.echo(str(result.files.video))


def _new_spend(planned: list[Generation], budget: str | None) -> tuple[list[tuple[str, Estimate | None]], int]:
    """What a budget check counts: the estimates of the generations to be paid for, and how many
    others resume a task (none looked up without a budget: nothing is read then)."""
    from cli.prepare import to_be_paid

    paid = to_be_paid(planned) if budget else planned
    return [(generation.name, generation.estimate) for generation in paid], len(planned) - len(paid)


def _keep_serving(api: str, stack: LocalStack, result: GenerationResult) -> None:
    """Print the demo's video, say how to use the stack the demo leaves up, and wait for Ctrl-C."""
    from cli.demo import BUCKET_BLOCK, GATEWAY_BLOCK

    typer.echo(str(result.files.video))
    for line in (
        f"the local stack stays up: gateway {stack.gateway_url}, S3 {stack.s3_endpoint} (bucket {stack.bucket})",
        f"blocks `{GATEWAY_BLOCK}` and `{BUCKET_BLOCK}` are saved on the Prefect API at {api}; in another shell, with"
        f" the same PREFECT_HOME ({os.environ.get('PREFECT_HOME') or '~/.prefect'}) or PREFECT_API_URL={api}:",
        f"  seedance batch examples/batch.yaml --out out/batch --gateway {GATEWAY_BLOCK} --bucket {BUCKET_BLOCK}",
        "Ctrl-C stops it",
    ):
        stderr.print(escape(line))

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # a `kill` too stops the stack's servers, not only this process

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        signal.signal(signal.SIGTERM, previous)  # a second kill during the shutdown is not caught again
        stderr.print("stopping the local stack")


@app.command()
def batch(
    manifest: Annotated[Path, typer.Argument(help="A manifest: `defaults:` and `items:` (specs or spec files).")],
    out: Annotated[
        str, typer.Option("--out", help="Folder or s3://bucket/prefix; each item's outputs go to <out>/<item name>/<task id>/.")
    ],
    gateway: GatewayOption = None,
    bucket: BucketOption = None,
    budget: Annotated[str | None, typer.Option(help='Refuse to submit items past this, e.g. "100 CNY".')] = None,
    as_json: JsonOption = False,
    dry_run: DryRunOption = False,
) -> None:
    """Generate every item of a manifest, polled together; prints each video's location, one per line."""
    from cli.budget import over_budget
    from cli.prepare import open_gateway, plan_generations, preflight_manifest
    from cli.resolve import bucket_block
    from cli.server import connect
    from seedance.manifest import read_manifest

    try:
        items, problems = read_manifest(manifest)
        block, api_url = open_gateway(gateway, dry_run=dry_run)
        preflight_manifest(items, problems, block, manifest)
        planned = plan_generations([(item.name, item.spec) for item in items], block, None)
        paid, resumed = _new_spend(planned, budget)
        refused = over_budget(paid, budget, resumed=resumed)
        if refused:
            warning = f"budget {budget}: {', '.join(refused)} would pass it and will not be submitted"
            stderr.print(f"[yellow]warning:[/] {escape(warning)}")
        if dry_run:
            _dry_run(planned, block, bucket, as_json)
            return
        if not api_url:
            connect()
        if bucket or any(item.spec.uploads() for item in items):
            bucket_block(bucket)
    except SeedanceError as exc:
        fail(exc)

    from cli.run import print_failures, print_summary, run_generations
    from flows.batch import generate_batch

    # The flow reads the manifest itself: its items as parameters would pass Prefect's 512 KB limit at ~800.
    location = str(manifest.resolve())
    result = run_generations(
        planned,
        block,
        as_json,
        lambda: generate_batch(manifest=location, out_dir=out, gateway=gateway, bucket=bucket, budget=budget),
    )
    failed = [item for item in result.items if item.result is None]
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        for item in result.items:
            if item.result is not None:
                print_summary(item.name, item.result)
        print_failures(failed)
        for item in result.items:
            if item.result is not None:
                typer.echo(item.result.locations["video"])
    if failed:
        raise typer.Exit(1)


@app.command()
def storyboard(
    storyboard_file: Annotated[Path, typer.Argument(help="A storyboard: `defaults:`, optional `first_frame:`, and `shots:`.")],
    out: Annotated[
        str, typer.Option("--out", help="Folder or s3://bucket/prefix; the shots and the cut go to <out>/<storyboard name>/.")
    ],
    gateway: GatewayOption = None,
    bucket: BucketOption = None,
    as_json: JsonOption = False,
) -> None:
    """Generate shots that continue one another and cut them into one video; its location is printed last."""
    from cli.prepare import open_gateway, shot_rows
    from cli.progress import Progress, choose_mode
    from cli.resolve import bucket_block
    from cli.run import run_flow
    from cli.server import connect
    from seedance.storyboard import load_storyboard

    try:
        board = load_storyboard(storyboard_file)
        block, api_url = open_gateway(gateway, dry_run=False)
        board.preflight(block.default_model, block.get_dialect())
        if not api_url:
            connect()
        bucket_block(bucket)  # every shot after the first uploads the last frame before it
    except SeedanceError as exc:
        fail(exc)

    from flows.storyboard import storyboard as storyboard_flow

    progress = Progress(shot_rows(board, block), task_id_of=lambda key: None)
    try:
        result = run_flow(
            lambda: storyboard_flow(board=board, out_dir=out, gateway=gateway, bucket=bucket, name=storyboard_file.stem),
            progress,
            choose_mode(as_json),
            block,
        )
    except SeedanceError as exc:
        fail(exc)
    typer.echo(result.model_dump_json(indent=2) if as_json else str(result.video))


@app.command()
def estimate(
    spec_or_manifest: Annotated[Path, typer.Argument(help="A spec file, or a manifest with `defaults:` and `items:`.")],
    model: Annotated[str, typer.Option(help="Model for specs that name none.")] = DEFAULT_MODEL,
    as_json: Annotated[bool, typer.Option("--json", help="Every estimate, its notes and the totals, as JSON.")] = False,
) -> None:
    """Tokens and cost per item and in total, from the price file; no network."""
    from seedance.cost.report import estimate_file, render_report

    try:
        report = estimate_file(spec_or_manifest, model)
    except SeedanceError as exc:
        fail(exc)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    print_table(render_report(report))


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
        fail(exc)
    if as_json:
        typer.echo(json.dumps([spec.model_dump(mode="json") for spec in known.models.values()], indent=2))
        return
    # ids whole, one per line (the BytePlus one under the Volcengine one): the other columns wrap first
    table = Table("model id / BytePlus id", "resolutions", "durations", "modes", "references", "audio", "task types")
    table.columns[0].no_wrap = True
    for column in table.columns[1:]:
        column.overflow = "fold"  # folded, not cut short with "…"
    for spec in known.models.values():

        def mark(field: str, text: str, spec: ModelSpec = spec) -> str:
            return text + ("*" if field in spec.inferred else "")

        references = (
            f"{spec.max_reference_images} img / {spec.max_reference_videos} vid / {spec.max_reference_audios} aud"
            if spec.max_reference_images or spec.media_references
            else "—"
        )
        table.add_row(
            f"{spec.id}\n{spec.byteplus_id}",
            mark("resolutions", ", ".join(spec.resolutions)),
            mark("max_duration", spec.durations()),
            ", ".join(sorted(mode.value for mode in spec.modes)),
            mark("max_reference_images", references),
            "yes" if spec.generate_audio else "no",
            mark("task_types", ", ".join(spec.task_types) or "—"),
        )
    table.caption = f"* inferred, not seen in vendor material · catalog: {known.origin}"
    table.caption_justify = "left"
    print_table(table)


app.command("status")(generations.status)
app.command("cancel")(generations.cancel)
app.command("list")(generations.list_generations)


def _dry_run(planned: list[Generation], block: SeedanceGateway, bucket: str | None, as_json: bool) -> None:
    from cli.dryrun import plan_requests, print_dry_run
    from cli.prepare import dry_run_bucket

    print_dry_run(plan_requests(planned, block, dry_run_bucket(bucket, planned)), as_json)
