"""Gateway dialects: how each gateway differs from the official Ark API (ark-api.md §7).

The official API is the reference; a dialect says how to shape a request for one gateway and how
to read its answers back into Ark's own shapes. Where a gateway documents only some fields, a
request using an undocumented one is refused before it is sent rather than silently dropped: a paid
video that ignores what was asked for is worse than a clear error.

    name         differences handled
    ark          none (Volcengine, cn-beijing)
    byteplus     BytePlus model ids (dreamina-seedance-2-0-…, seedance-1-0-…) sent; read back as ours
    kkiai        documents model/content/generate_audio/ratio/duration/watermark only;
                 its create answer may lack the id (the task is then found in the task list)
    aiid         top-level `prompt` required; `task_` ids; `created_at` as a string;
                 no cancelled/expired states
    maxtoken     watermark and camera_fixed default to true there: always sent explicitly (false
                 is the neutral value even for models without camera_fixed; its own example sends it)
    aimanyi      documents model/content/generate_audio/ratio/duration/watermark only
    quickrouter  create answers `status: submitted`; documents 2–12 s and no `adaptive` ratio

The local gateway serves each of them from these same facts (`local_gateway/dialects.py`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, model_validator

from seedance.ark.types import CreateTaskRequest, TaskStatus, TextContent
from seedance.catalog import ADAPTIVE, find_model
from seedance.errors import Problem


class DialectName(StrEnum):
    ARK = "ark"
    BYTEPLUS = "byteplus"
    KKIAI = "kkiai"
    AIID = "aiid"
    MAXTOKEN = "maxtoken"
    AIMANYI = "aimanyi"
    QUICKROUTER = "quickrouter"


OFFICIAL_BASE_URL: Final = "https://ark.cn-beijing.volces.com/api/v3"

_CORE_FIELDS: Final = frozenset({"model", "content", "generate_audio", "ratio", "duration", "watermark"})
ARK_DEFAULTS: Final[dict[str, Any]] = {"watermark": False, "camera_fixed": False}
"""Ark's own defaults for the fields some gateways default differently (ark-api.md §2.1)."""


class Dialect(BaseModel):
    """What one gateway accepts and answers."""

    model_config = ConfigDict(frozen=True)

    name: DialectName
    base_url: str | None
    """The gateway's API root, when it is public."""
    byteplus_ids: bool = False
    documented_fields: frozenset[str] | None = None
    """Top-level request fields the gateway documents; None means all of Ark's."""
    own_defaults: dict[str, Any] = {}
    """Defaults the gateway applies where Ark's differ (maxtoken: watermark and camera_fixed true)."""
    explicit: dict[str, Any] = {}
    """Fields always sent, with Ark's default, because the gateway's own default differs
    (by default: every field of `own_defaults`, with the value of `ARK_DEFAULTS`)."""
    top_level_prompt: bool = False
    string_created_at: bool = False
    max_duration: int | None = None
    adaptive_ratio: bool = True
    task_id_prefix: str = "cgt-"
    create_status: str | None = None
    """The status the gateway adds to its create answer (`submitted`), if any."""
    create_may_omit_id: bool = False
    """The create answer may name no task (kkiai documents `{}`): the client finds it in the list."""
    statuses: frozenset[TaskStatus] = frozenset(TaskStatus)
    """The task states the gateway has (aiid: no cancelled, no expired)."""

    @model_validator(mode="before")
    @classmethod
    def _explicit_from_own_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and "explicit" not in data and data.get("own_defaults"):
            data = {**data, "explicit": {field: ARK_DEFAULTS[field] for field in data["own_defaults"]}}
        return data

    def problems(self, request: CreateTaskRequest) -> list[Problem]:
        """What in `request` this gateway cannot be trusted to honour."""
        problems: list[Problem] = []
        if self.documented_fields is not None:
            for field in sorted(set(request.to_body()) - self.documented_fields):
                problems.append(
                    Problem(
                        field=field,
                        message=f"is not documented by the {self.name} gateway (it documents "
                        f"{', '.join(sorted(self.documented_fields))}); remove it or use another gateway",
                    )
                )
        if self.max_duration is not None and request.duration is not None and request.duration > self.max_duration:
            problems.append(
                Problem(
                    field="duration",
                    message=f"{request.duration} is more than the {self.name} gateway documents; allowed: up to {self.max_duration}",
                )
            )
        if not self.adaptive_ratio and request.ratio == ADAPTIVE:
            problems.append(
                Problem(field="ratio", message=f"'adaptive' is not offered by the {self.name} gateway; give a fixed ratio")
            )
        if self.top_level_prompt and not _prompt(request):
            problems.append(
                Problem(field="prompt", message=f"the {self.name} gateway requires a text prompt", code="MissingParameter")
            )
        return problems

    def wire_model(self, model: str) -> str:
        """The model id this gateway knows `model` by (BytePlus ids on BytePlus)."""
        spec = find_model(model) if self.byteplus_ids else None
        return spec.byteplus_id if spec is not None else model

    def shape(self, request: CreateTaskRequest) -> dict[str, Any]:
        """The JSON body to send to this gateway."""
        body = request.to_body()
        body["model"] = self.wire_model(request.model)
        for field, value in self.explicit.items():
            body.setdefault(field, value)
        if self.top_level_prompt:
            body["prompt"] = _prompt(request)
        return body

    def read_task(self, raw: Any) -> Any:
        """A task object (or create answer) in Ark's own shape.

        BytePlus ids are read back as the Volcengine ids requests are written in, so that a task
        found in the list matches the request that made it (`reconcile`), whatever the cloud.
        """
        if isinstance(raw, dict) and self.string_created_at:
            for field in ("created_at", "updated_at"):
                value = raw.get(field)
                if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                    raw = {**raw, field: int(value)}
        if isinstance(raw, dict) and self.byteplus_ids and isinstance(raw.get("model"), str):
            spec = find_model(raw["model"])
            if spec is not None and raw["model"] == spec.byteplus_id:
                raw = {**raw, "model": spec.id}
        return raw


def _prompt(request: CreateTaskRequest) -> str:
    return " ".join(item.text for item in request.content if isinstance(item, TextContent)).strip()


DIALECTS: Final[dict[DialectName, Dialect]] = {
    dialect.name: dialect
    for dialect in (
        Dialect(name=DialectName.ARK, base_url=OFFICIAL_BASE_URL),
        Dialect(name=DialectName.BYTEPLUS, base_url="https://ark.ap-southeast.bytepluses.com/api/v3", byteplus_ids=True),
        Dialect(
            name=DialectName.KKIAI,
            base_url="https://www.kkiai.com/api/v3",
            documented_fields=_CORE_FIELDS,
            create_may_omit_id=True,
        ),
        Dialect(
            name=DialectName.AIID,
            base_url="https://api.aiid.edu.kg/api/v3",
            top_level_prompt=True,
            string_created_at=True,
            task_id_prefix="task_",
            statuses=frozenset({TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.SUCCEEDED, TaskStatus.FAILED}),
        ),
        Dialect(
            name=DialectName.MAXTOKEN,
            base_url=None,
            own_defaults={"watermark": True, "camera_fixed": True},
        ),
        Dialect(name=DialectName.AIMANYI, base_url=None, documented_fields=_CORE_FIELDS),
        Dialect(
            name=DialectName.QUICKROUTER,
            base_url="https://api.quickrouter.ai/api/v3",
            max_duration=12,
            adaptive_ratio=False,
            create_status="submitted",
        ),
    )
}


def get_dialect(name: str | DialectName) -> Dialect:
    """The dialect called `name`.

    Raises:
        ValueError: naming the allowed dialects.
    """
    try:
        return DIALECTS[DialectName(name)]
    except ValueError:
        raise ValueError(f"unknown gateway dialect {name!r}; allowed: {', '.join(d.value for d in DialectName)}") from None
