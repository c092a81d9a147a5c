"""`seedance blocks ...`: save the gateway and bucket blocks from the shell, on the Prefect API the
other commands use (`PREFECT_API_URL`, else the shared local server: `cli.server`).

Secrets are best given through their environment variables or the hidden prompt: a value typed on
the command line stays in shell history and shows in `ps`. Prefect is imported only when a command runs.
"""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Save the blocks the pipeline runs with.")


def _connect() -> None:
    """The Prefect API the blocks are saved on (`cli.server.connect`); a mistake is one line and a hint."""
    from cli.errors import fail
    from cli.server import connect
    from seedance.errors import SeedanceError

    try:
        connect()
    except SeedanceError as exc:
        fail(exc)


def _secret(value: str | None, what: str) -> str:
    """A secret given through its environment variable, else asked for at a hidden prompt."""
    return value or typer.prompt(what, hide_input=True)


@app.command("save-gateway")
def save_gateway(
    name: Annotated[str, typer.Argument(help="Block name, e.g. volcengine; flows take it as `gateway`.")],
    base_url: Annotated[
        str | None, typer.Option(help="The API root ending in /api/v3; default: the dialect's public address.")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="ARK_API_KEY", show_envvar=True, help="Read from ARK_API_KEY, else prompted (hidden).")
    ] = None,
    dialect: Annotated[str, typer.Option(help="ark, byteplus, kkiai, aiid, maxtoken, aimanyi, quickrouter.")] = "ark",
    default_model: Annotated[str | None, typer.Option(help="Model for specs that name none.")] = None,
    max_concurrent_tasks: Annotated[
        int | None, typer.Option(min=1, help="Tasks queued or running upstream at once, across every worker.")
    ] = None,
    requests_per_minute: Annotated[int | None, typer.Option(min=1, help="Creates per minute, across every worker.")] = None,
) -> None:
    """Save a SeedanceGateway block (the API key stored encrypted by Prefect)."""
    from pydantic import SecretStr

    from blocks.gateway import SeedanceGateway
    from seedance.ark.dialects import get_dialect

    try:
        chosen = get_dialect(dialect)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--dialect") from None
    url = base_url or chosen.base_url
    if not url:
        raise typer.BadParameter(f"the {chosen.name} gateway has no public address on record", param_hint="--base-url")
    block = SeedanceGateway(
        base_url=url,
        api_key=SecretStr(_secret(api_key, "API key")),
        dialect=chosen.name,
        max_concurrent_tasks=max_concurrent_tasks,
        requests_per_minute=requests_per_minute,
    )
    if default_model:
        block.default_model = default_model
    _connect()
    block.save(name, overwrite=True)
    limits = [
        f"{max_concurrent_tasks} tasks at once" if max_concurrent_tasks else "",
        f"{requests_per_minute}/min" if requests_per_minute else "",
    ]
    shown = ", ".join(limit for limit in limits if limit)
    typer.echo(f"saved gateway block {name!r}: {url} ({chosen.name}{'; ' + shown if shown else ''})")


@app.command("save-bucket")
def save_bucket(
    name: Annotated[str, typer.Argument(help="Block name, e.g. assets; flows take it as `bucket`.")],
    bucket: Annotated[str, typer.Option(help="The S3 bucket's name.")],
    folder: Annotated[str, typer.Option(help="Key prefix for everything the pipeline writes.")] = "seedance",
    region: Annotated[str | None, typer.Option(help="AWS region, e.g. eu-west-1.")] = None,
    endpoint_url: Annotated[
        str | None, typer.Option(help="For MinIO-style S3: the server's URL, e.g. http://minio:9000.")
    ] = None,
    access_key_id: Annotated[
        str | None, typer.Option(envvar="AWS_ACCESS_KEY_ID", show_envvar=True, help="Default: boto3's own credential chain.")
    ] = None,
    secret_access_key: Annotated[
        str | None,
        typer.Option(
            envvar="AWS_SECRET_ACCESS_KEY", show_envvar=True, help="Read from the environment, else prompted with a key id."
        ),
    ] = None,
) -> None:
    """Save an S3Bucket block and its AwsCredentials block (`NAME-credentials`), signing with SigV4."""
    from prefect_aws import AwsCredentials, S3Bucket
    from prefect_aws.client_parameters import AwsClientParameters
    from pydantic import SecretStr

    secret = SecretStr(_secret(secret_access_key, "AWS secret access key")) if access_key_id else None
    credentials = AwsCredentials(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret,
        region_name=region,
        aws_client_parameters=AwsClientParameters(endpoint_url=endpoint_url, config={"signature_version": "s3v4"}),
    )
    _connect()
    credentials.save(f"{name}-credentials", overwrite=True)
    S3Bucket(bucket_name=bucket, credentials=credentials, bucket_folder=folder).save(name, overwrite=True)
    typer.echo(f"saved bucket block {name!r}: s3://{bucket}/{folder}" + (f" at {endpoint_url}" if endpoint_url else ""))
