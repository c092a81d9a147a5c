"""Flow run names that say what a run makes, e.g. `harbour-lantern · 2.0 · 720p`, instead of Prefect's random pairs.

Each flow names its runs with one of these (`@flow(flow_run_name=...)`): Prefect calls it as the
run starts, with the validated parameters in `prefect.runtime.flow_run.parameters`. A name is
never worth a failed run, so anything missing is left out rather than raised.
"""

# Real annotations (no `from __future__`): this module sits beside the flows.
import re
from pathlib import PurePosixPath
from typing import Any

from prefect.runtime import flow_run

from seedance.catalog import find_model
from seedance.spec import GenerationSpec

SEPARATOR = " · "
_VERSION = re.compile(r"^(?:doubao|dreamina)-seedance-(\d+)-(\d+)((?:-[a-z][a-z0-9]*)*)(?:-\d{6})?$")


def model_label(model: str) -> str:
    """`doubao-seedance-2-0-260128` → `2.0`, `doubao-seedance-1-0-lite-t2v-250428` → `1.0 lite t2v`; others as given."""
    match = _VERSION.match(model)
    if match is None:
        return model
    major, minor, variant = match.groups()
    return " ".join([f"{major}.{minor}", *variant.split("-")[1:]])


def spec_name(what: str, spec: GenerationSpec | None) -> str:
    """`what · model · resolution`, from what the spec says (a model it leaves to the gateway is left out)."""
    parts = [what]
    if spec is not None and spec.model:
        parts.append(model_label(spec.model))
        catalog_entry = find_model(spec.model)
        resolution = spec.resolution or (catalog_entry.default_resolution if catalog_entry else None)
        if resolution:
            parts.append(resolution)
    elif spec is not None and spec.resolution:
        parts.append(spec.resolution)
    return SEPARATOR.join(parts)


def _parameters() -> dict[str, Any]:
    return dict(flow_run.parameters or {})


def _spec(value: object) -> GenerationSpec | None:
    return value if isinstance(value, GenerationSpec) else None


def generation_run_name() -> str:
    """generate-video: `<name> · <model> · <resolution>`."""
    parameters = _parameters()
    return spec_name(str(parameters.get("name") or "video"), _spec(parameters.get("spec")))


def asset_run_name() -> str:
    """generate-from-asset: `<asset file stem> · <model> · <resolution>`."""
    parameters = _parameters()
    asset = str(parameters.get("asset") or "")
    return spec_name(PurePosixPath(asset).stem or "asset", _spec(parameters.get("spec")))


def batch_run_name() -> str:
    """generate-batch: `batch · <manifest stem> · <n> inline items`."""
    parameters = _parameters()
    parts = ["batch"]
    if parameters.get("manifest"):
        parts.append(PurePosixPath(str(parameters["manifest"])).stem)
    if parameters.get("items"):
        parts.append(f"{len(parameters['items'])} items")
    return SEPARATOR.join(parts)


def storyboard_run_name() -> str:
    """storyboard: `<name> · <n> shots`."""
    parameters = _parameters()
    board = parameters.get("board")
    shots = getattr(board, "shots", None)
    return SEPARATOR.join([str(parameters.get("name") or "storyboard"), *([f"{len(shots)} shots"] if shots else [])])
