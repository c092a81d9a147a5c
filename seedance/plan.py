"""What submitting a spec will send, worked out without sending anything.

The intent key and the request follow the rules the generate and batch flows submit by
(`flows/steps.py::submit`): the task type is made explicit where the media decide it, local files
count by their content digest, and a spec that leaves the seed random gets the intent's own seed.
The command line uses a plan to print the requests of a dry run, and to know each generation's
intent key before its flow starts (for live progress, and to cancel its task on Ctrl-C).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from seedance.ark.dialects import Dialect
from seedance.ark.types import CreateTaskRequest
from seedance.files import sha256_file
from seedance.intents import intent_key, intent_seed
from seedance.spec import GenerationSpec


class SubmissionPlan(BaseModel):
    """A spec as it will be submitted: its intent key, the spec as sent and its local files' digests."""

    intent_key: str
    spec: GenerationSpec
    """With `omni_reference_task_type` and `seed` filled in as the submission fills them."""
    default_model: str
    digests: dict[Path, str]
    """sha256 of every local file, by path."""

    def request(self, url_for: Callable[[Path], str]) -> CreateTaskRequest:
        """The create request, each local file given the URL `url_for` names (its S3 object, a data: URL)."""
        return self.spec.to_request(self.default_model, url_for)


def plan_submission(
    spec: GenerationSpec, *, gateway_url: str, default_model: str, dialect: Dialect, salt: str | None = None
) -> SubmissionPlan:
    """The plan of a spec that passed pre-flight, for a gateway at `gateway_url` (its API root).

    `salt` asks for a new generation, as the flows' `salt` parameter does.
    """
    spec = spec.with_task_type(default_model, dialect)
    digests = {path: sha256_file(path) for path in spec.local_files()}
    keyed = spec.to_request(default_model, lambda path: f"sha256:{digests[path]}")
    key = intent_key(gateway_url, keyed.to_body(), salt)
    if spec.seed in (None, -1) and "seed" in (dialect.documented_fields or {"seed"}):
        spec = spec.model_copy(update={"seed": intent_seed(key)})
    return SubmissionPlan(intent_key=key, spec=spec, default_model=default_model, digests=digests)
