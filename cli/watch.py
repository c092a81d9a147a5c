"""`seedance watch PLACE`: report each new object in an S3 prefix or a local folder as a Prefect event.

Every few seconds the place is listed; each object not reported before becomes a
`seedance.asset.created` event (its resource: `seedance.asset.s3://bucket/key`), which the
generate-from-asset deployment's trigger turns into a video. What was reported is remembered in the
state folder, so a restarted watcher reports what arrived while it was down, and nothing twice:
the events go out first and are recorded as reported once the Prefect API has taken them, and an
event sent again after a crash between the two carries the same id, which the server keeps once.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer


def watch(
    place: Annotated[str, typer.Argument(help="s3://bucket/prefix, or a local folder.")],
    bucket: Annotated[
        str | None, typer.Option("--bucket", help="Saved S3Bucket block whose credentials list the bucket (S3 places).")
    ] = None,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between two looks.")] = 10.0,
    include_existing: Annotated[
        bool, typer.Option("--include-existing", help="On the first look, report what is already there too.")
    ] = False,
    once: Annotated[bool, typer.Option("--once", help="Look once, report, and exit.")] = False,
) -> None:
    """Send `seedance.asset.created` for every new object in PLACE, once each, across restarts."""
    from blocks.bucket import load_bucket, s3_client
    from seedance.assets import SeenAssets, WatchedPlace
    from seedance.errors import SeedanceError
    from seedance.settings import get_settings
    from tasks.events import asset_created_event, send_events

    try:
        watched = WatchedPlace.parse(place)
        s3 = s3_client(load_bucket(bucket)) if watched.bucket else None
    except SeedanceError as exc:
        raise typer.BadParameter(str(exc), param_hint="PLACE / --bucket") from None
    seen = SeenAssets.of(get_settings().state_dir, watched)
    typer.echo(f"watching {watched.label} (state: {seen.path})")
    while True:
        new = seen.new(watched.scan(s3))
        if not seen.started and not include_existing:
            seen.record(new)
            typer.echo(f"{len(new)} object(s) already there, not reported; watching for new ones")
        elif new:
            send_events([asset_created_event(asset, watched.label) for asset in new])
            seen.record(new)
            for asset in new:
                typer.echo(f"reported {asset.resource_id}")
        if once:
            return
        time.sleep(interval)
