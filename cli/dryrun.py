"""`--dry-run`: the requests a generate or batch would send, printed, and nothing sent.

The create request is built by the client that would send it (`ArkClient.build_create`), so its
URL, headers and body are the ones a real run sends; only the API key is masked, and each local
file stands as the S3 object it would be uploaded to (a real run sends that object's presigned
GET URL). Nothing is uploaded, created or started: no Prefect server either.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import typer
from pydantic import BaseModel

from cli.errors import stderr
from cli.prepare import Generation
from seedance.storage import content_key

if TYPE_CHECKING:
    from blocks.gateway import SeedanceGateway

SHOWN_DATA_URL_CHARS: Final = 80
"""An inline image's data: URL is shown this long in the text output (whole in `--json`)."""


class Upload(BaseModel):
    file: Path
    bytes: int
    content_type: str
    s3_url: str
    """`s3://bucket/key`: content-addressed, so a run finds it already there after the first."""


class PlannedRequest(BaseModel):
    method: str
    url: str
    headers: dict[str, str]
    json_body: dict[str, Any]


class DryRun(BaseModel):
    """What one generation would send."""

    name: str
    intent_key: str
    resumes_task: str | None
    """The task an earlier run created for this intent: a run collects it and creates nothing."""
    estimated_cost: str | None
    uploads: list[Upload]
    create: PlannedRequest | None


def plan_requests(generations: list[Generation], gateway: SeedanceGateway, bucket: tuple[str, str] | None) -> list[DryRun]:
    """The dry run of each generation; `bucket` is (bucket name, key folder) when any file uploads."""
    from blocks.state import open_intent_store

    store = open_intent_store()
    planned: list[DryRun] = []
    with gateway.get_client() as client:
        for generation in generations:
            plan = generation.plan
            uploads = []
            urls: dict[Path, str] = dict(plan.spec.inlined())
            for path in plan.spec.uploads():
                assert bucket is not None, "the command resolves a bucket when a file uploads"
                name, folder = bucket
                s3_url = f"s3://{name}/{content_key(folder, plan.digests[path], path.suffix)}"
                content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                uploads.append(Upload(file=path, bytes=path.stat().st_size, content_type=content_type, s3_url=s3_url))
                urls[path] = s3_url
            known = store.get(plan.intent_key)
            resumes = known.task_id if known is not None else None
            request = client.build_create(plan.request(urls.__getitem__))
            headers = {key.decode(): _masked(key.decode(), value.decode()) for key, value in request.headers.raw}
            estimate = generation.estimate
            planned.append(
                DryRun(
                    name=generation.name,
                    intent_key=plan.intent_key,
                    resumes_task=resumes,
                    estimated_cost=f"{estimate.cost:.4f} {estimate.currency}" if estimate else None,
                    uploads=[] if resumes else uploads,
                    create=None
                    if resumes
                    else PlannedRequest(
                        method=request.method, url=str(request.url), headers=headers, json_body=json.loads(request.content)
                    ),
                )
            )
    return planned


def print_dry_run(planned: list[DryRun], as_json: bool) -> None:
    """The requests on stdout (JSON with `--json`); a closing note on stderr says nothing was sent."""
    if as_json:
        typer.echo(json.dumps([run.model_dump(mode="json") for run in planned], indent=2))
    else:
        for run in planned:
            typer.echo(
                f"# {run.name}: intent {run.intent_key}" + (f", estimate {run.estimated_cost}" if run.estimated_cost else "")
            )
            if run.resumes_task:
                typer.echo(f"# resumes task {run.resumes_task}, created by an earlier run: no upload, no create")
            for upload in run.uploads:
                typer.echo(
                    f"PUT {upload.s3_url}  ({upload.file}, {upload.bytes:,} bytes, {upload.content_type}; "
                    "skipped when the object is already there)"
                )
            if run.create is not None:
                typer.echo(f"{run.create.method} {run.create.url}")
                for key, value in run.create.headers.items():
                    typer.echo(f"{key}: {value}")
                typer.echo("")
                typer.echo(json.dumps(_shortened(run.create.json_body), indent=2, ensure_ascii=False))
            typer.echo("")
    stderr.print("dry run: nothing was uploaded, created or started (s3:// URLs are sent as presigned GET URLs)")


def _masked(header: str, value: str) -> str:
    """The API key reduced to its last four characters (none of a short key)."""
    if header.lower() != "authorization":
        return value
    scheme, _, secret = value.partition(" ")
    return f"{scheme} ****{secret[-4:] if len(secret) >= 16 else ''}"


def _shortened(body: Any) -> Any:
    """The body with each data: URL cut to its first characters and its length."""
    if isinstance(body, dict):
        return {key: _shortened(value) for key, value in body.items()}
    if isinstance(body, list):
        return [_shortened(value) for value in body]
    if isinstance(body, str) and body.startswith("data:") and len(body) > SHOWN_DATA_URL_CHARS:
        return f"{body[:SHOWN_DATA_URL_CHARS]}…({len(body):,} characters)"
    return body
