"""The dialect the local gateway speaks: the official API's, or one reseller gateway's (ark-api.md §7).

The facts are the ones the client shapes its requests by (`seedance.ark.dialects.Dialect`: id
prefix, string `created_at`, create status, documented fields, maximum duration, `adaptive`,
top-level prompt, own defaults, states); this module acts them out on the server's side. Where a
gateway's document is silent (GET, list and DELETE shapes, error envelopes, what happens to fields
it does not list unless it restricts them), the official behaviour stays.

    dialect      create body                                  create answer                             tasks
    ark          Ark's; BytePlus ids → 404                    {"id": "cgt-…"}                           Ark's
    byteplus     BytePlus ids; Volcengine doubao- ids → 404   {"id": "cgt-…"}                           `model` is the BytePlus id
    kkiai        its 6 documented top-level fields only       {}                                        Ark's
    aiid         non-empty top-level `prompt`; its aliases    {"id": "task_…", "created_at": "<s>",     `created_at`/`updated_at` strings; no
                 (aliases.py)                                  "items": ""}                              cancelled/expired (see below)
    maxtoken     watermark and camera_fixed default to true   {"id": "cgt-…"}                           Ark's
    aimanyi      its 6 documented top-level fields only       {"id": "cgt-…"}                           Ark's
    quickrouter  duration at most 12; no `adaptive` ratio     {"id": "cgt-…", "status": "submitted"}    Ark's

Without cancelled and expired states (aiid), DELETE of a queued task removes it (GET answers 404
afterwards, as for a deleted finished task), and a task that outlives `execution_expires_after`
ends `failed` with the code `TaskTimeout`: a client must see it end, and `failed` is the only end
besides success that aiid documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from local_gateway import aliases
from local_gateway.errors import ArkError, from_problems, invalid_parameter, not_found
from seedance.ark.dialects import Dialect, DialectName, get_dialect
from seedance.ark.types import CreateTaskRequest, TaskError, TaskStatus
from seedance.catalog import ADAPTIVE, ModelSpec, find_model
from seedance.errors import Problem
from seedance.validation import check_request, strip_nulls

ALIASED: Final = frozenset({DialectName.AIID})
"""Dialects whose documents define the field aliases of `aliases.py`."""

OVERDUE_ERROR: Final = TaskError(
    code="TaskTimeout",
    message="The task did not finish within its execution_expires_after and was stopped",
)
"""How a task past its deadline ends in a dialect without the `expired` state."""


@dataclass(frozen=True)
class ServedDialect:
    """One gateway's behaviour, as the local gateway serves it.

    Example:
        >>> served = ServedDialect.named("aiid")
        >>> served.create_answer("task_abc", 1779336000.2)
        {'id': 'task_abc', 'created_at': '1779336000', 'items': ''}
    """

    dialect: Dialect

    @classmethod
    def named(cls, name: str | DialectName) -> ServedDialect:
        """The served form of the dialect `name` (raises ValueError naming the allowed ones)."""
        return cls(get_dialect(name))

    @property
    def name(self) -> DialectName:
        return self.dialect.name

    # -- create ---------------------------------------------------------------------------------

    def read_body(self, body: Any) -> Any:
        """The create body as Ark would read it: nulls dropped (Ark treats null as absent, and the
        official SDK sends them), a restricted gateway's field list enforced, a top-level prompt
        required and folded into `content`, aliases mapped.

        Raises:
            ArkError: 400 for a field the gateway does not document, a missing prompt, a bad alias.
        """
        if not isinstance(body, dict):
            return body
        body = strip_nulls(body)
        documented = self.dialect.documented_fields
        if documented is not None:
            # Only top-level fields: kkiai's and aimanyi's item tables mark `image_url` and `role`
            # as required on every content item, which no text item can satisfy (ark-api.md §7).
            # Enforcing that would refuse their own examples' text items, so items stay Ark's.
            extra = sorted(set(body) - documented)
            if extra:
                raise from_problems(
                    [
                        Problem(
                            field=field,
                            message=f"is not a parameter of the {self.name} API; it documents {', '.join(sorted(documented))}",
                        )
                        for field in extra
                    ]
                )
        if self.name in ALIASED:
            model = body.get("model")
            body = aliases.to_ark_body(body, find_model(model) if isinstance(model, str) else None)
        if self.dialect.top_level_prompt:
            body = _fold_prompt(body)
        return body

    def check_model(self, model: str) -> ModelSpec | None:
        """The catalog entry of `model`, refused with Ark's 404 when it is the other cloud's id.

        BytePlus ModelArk names models `dreamina-seedance-…` / `seedance-1-…`; Volcengine (and
        every seed gateway, whose examples all use `doubao-` ids) names them `doubao-seedance-…`.
        """
        spec = find_model(model)
        if spec is None:
            return None
        own = spec.byteplus_id if self.dialect.byteplus_ids else spec.id
        if model != own:
            cloud = "BytePlus ModelArk" if self.dialect.byteplus_ids else "Volcengine Ark"
            raise not_found(
                "InvalidEndpointOrModel.NotFound",
                f"The model or endpoint {model} does not exist or you do not have access to it: {cloud} names this model {own}",
                "model",
            )
        return spec

    def problems(self, request: CreateTaskRequest) -> list[Problem]:
        """Ark's checks (`check_request`) as this gateway applies them, plus its own limits."""
        checked = request
        if "camera_fixed" in self.dialect.own_defaults:
            # A gateway whose own default is camera_fixed=true (maxtoken lists it for 2.0 too) must
            # take the field on every model and mode, or it would refuse requests that omit it.
            checked = request.model_copy(update={"camera_fixed": None})
        problems = check_request(checked)
        limit = self.dialect.max_duration
        if limit is not None and request.duration is not None and request.duration > limit:
            # Only the maximum: quickrouter's "2–12 s" is one line for all its models, and a model's
            # own minimum (4 s for 2.0) is the official rule it does not claim to relax.
            problems.append(
                Problem(field="duration", message=f"{request.duration} is out of range on this gateway; allowed: at most {limit}")
            )
        if not self.dialect.adaptive_ratio and request.ratio == ADAPTIVE:
            problems.append(Problem(field="ratio", message="'adaptive' is not offered by this gateway; allowed: a fixed ratio"))
        return problems

    def with_own_defaults(self, request: CreateTaskRequest) -> CreateTaskRequest:
        """`request` with the gateway's own defaults where it gives no value (maxtoken: a watermark
        and a fixed camera unless asked otherwise, so only a client that sends false gets Ark's)."""
        missing = {field: value for field, value in self.dialect.own_defaults.items() if getattr(request, field) is None}
        return request.model_copy(update=missing) if missing else request

    def create_answer(self, task_id: str, created_at: float) -> dict[str, Any]:
        """The body of a 200 create answer."""
        if self.dialect.create_may_omit_id:
            return {}  # kkiai's document shows exactly this: the client must find its task in the list
        answer: dict[str, Any] = {"id": task_id}
        if self.dialect.create_status is not None:
            answer["status"] = self.dialect.create_status
        if self.dialect.string_created_at:
            # aiid's example: `{"id": "task_xxx", "created_at": "<string>", "items": "<string>"}`.
            # What `items` holds is not documented; an empty string is the least it can be.
            answer |= {"created_at": str(int(created_at)), "items": ""}
        return answer

    # -- tasks ----------------------------------------------------------------------------------

    def present(self, task: dict[str, Any]) -> dict[str, Any]:
        """A task object (wire.py's, Ark's shape) as this gateway sends it."""
        if self.dialect.string_created_at:
            task = {**task, "created_at": str(task["created_at"]), "updated_at": str(task["updated_at"])}
        return task

    @property
    def statuses(self) -> frozenset[TaskStatus]:
        return self.dialect.statuses

    @property
    def cancels_queued(self) -> bool:
        """DELETE of a queued task cancels it (Ark), or removes it (no `cancelled` state)."""
        return TaskStatus.CANCELLED in self.statuses

    @property
    def overdue_error(self) -> TaskError | None:
        """None: an overdue task becomes `expired` (Ark); else it fails with this error."""
        return None if TaskStatus.EXPIRED in self.statuses else OVERDUE_ERROR

    def status_filter(self, status: str | None) -> TaskStatus | None:
        """The list's `filter.status`, refused when this gateway has no such state.

        `expired` is not among Ark's documented filter values; accepting it costs nothing.
        """
        if status is None:
            return None
        allowed = [s for s in TaskStatus if s in self.statuses]
        if status not in {s.value for s in allowed}:
            raise invalid_parameter(
                "filter.status", f"{status!r} is not a task status; allowed: {', '.join(s.value for s in allowed)}"
            )
        return TaskStatus(status)


def _fold_prompt(body: dict[str, Any]) -> dict[str, Any]:
    """Check the required top-level `prompt` and keep only Ark's fields: it becomes the text item
    when `content` has none (aiid: "the primary description"); otherwise the content's own text,
    which a client like ours sends identical, stands."""
    prompt = body.get("prompt")
    if prompt is None or (isinstance(prompt, str) and not prompt.strip()):
        raise ArkError(400, "MissingParameter", "The parameter `prompt` is required and must not be empty", "prompt")
    if not isinstance(prompt, str):
        raise invalid_parameter("prompt", f"{prompt!r} is not a string")
    body = {key: value for key, value in body.items() if key != "prompt"}
    content = body.get("content", [])
    if not isinstance(content, list):
        return body  # parse_request names the problem
    has_text = any(isinstance(item, dict) and item.get("type") == "text" for item in content)
    body["content"] = content if has_text else [{"type": "text", "text": prompt}, *content]
    return body
