"""Generation specs: an Ark request body in which any media `url` may be a local file.

A spec file (YAML or JSON) is read like the body of `POST /contents/generations/tasks`, so an
example from the API docs runs once its URLs are swapped for files. Two shorthands are added:
`prompt` (a text item) and `references` (`{url, role}` pairs, the media type following the role);
`name` names the output files; `postprocess` lists steps run on the video. A media `url` may also be
an S3 object, `s3://bucket/key`: it is presigned at submit and used where it lies.

    model: doubao-seedance-2-0-260128
    prompt: A paper boat drifts down a rain-soaked street
    references:
      - {url: boat.png, role: first_frame}
    resolution: 720p
    ratio: "16:9"
    duration: 5
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from seedance.ark.dialects import Dialect
from seedance.ark.types import (
    AudioContent,
    ContentItem,
    CreateTaskRequest,
    ImageContent,
    MediaURL,
    TextContent,
    VideoContent,
)
from seedance.catalog import find_model
from seedance.errors import Problem, SpecError
from seedance.files import read_mapping
from seedance.locations import S3_SCHEME, S3Object, is_s3, join
from seedance.media import MediaError, ReferenceMedia, image_data_url, probe, reference_problems
from seedance.postprocess import PostprocessStep
from seedance.validation import check_request, infer_task_type, media_url, problems_from_validation_error, unknown_fields

REMOTE_PREFIXES: Final = ("http://", "https://", "data:", "asset://", S3_SCHEME)

ReferenceRole = Literal["first_frame", "last_frame", "reference_image", "reference_video", "reference_audio"]


class Reference(BaseModel):
    """A reference medium: a local path or URL and the role it plays."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        description="A local path (relative to the spec file), an s3://bucket/key object, or an http(s)/data:/asset:// URL."
    )
    role: ReferenceRole

    def content_item(self) -> ImageContent | VideoContent | AudioContent:
        media = MediaURL(url=self.url)
        if self.role == "reference_video":
            return VideoContent(video_url=media, role="reference_video")
        if self.role == "reference_audio":
            return AudioContent(audio_url=media, role="reference_audio")
        return ImageContent(image_url=media, role=self.role)


class GenerationSpec(CreateTaskRequest):
    """What to generate. Every Ark body field is accepted under its own name."""

    model: str | None = None  # type: ignore[assignment]  # the gateway block's default when absent
    content: list[ContentItem] = Field(default_factory=list)
    prompt: str | None = Field(default=None, description="The text prompt; shorthand for a text content item.")
    references: list[Reference] = Field(default_factory=list, description="Media with roles; shorthand for content items.")
    name: str | None = Field(default=None, description="Stem of the output files; defaults to the spec file's.")
    inline_images_max_bytes: int | None = Field(
        default=None,
        ge=0,
        description="Send local images up to this size inline as data: URLs instead of uploading them (videos never).",
    )
    postprocess: list[PostprocessStep] = Field(
        default_factory=list, description="Steps run on the video in order, e.g. [poster, preview, web, loudnorm, contact-sheet]."
    )

    def items(self) -> list[tuple[str, ContentItem]]:
        """Content items in request order, each with the spec field it came from."""
        items: list[tuple[str, ContentItem]] = []
        if self.prompt is not None:
            items.append(("prompt", TextContent(text=self.prompt)))
        items.extend((f"content[{i}]", item) for i, item in enumerate(self.content))
        items.extend((f"references[{i}]", ref.content_item()) for i, ref in enumerate(self.references))
        return items

    def fields(self) -> list[str]:
        """The spec field each content item of the request comes from, in request order."""
        return [origin for origin, _ in self.items()]

    def inlined(self) -> dict[Path, str]:
        """Local images small enough to send inline (see `inline_images_max_bytes`), as data: URLs."""
        return {path: image_data_url(path) for path in self._inline_images()}

    def uploads(self) -> list[Path]:
        """Local files that go to S3: every local file but the images sent inline."""
        inline = self._inline_images()
        return [path for path in self.local_files() if path not in inline]

    def _inline_images(self) -> set[Path]:
        limit = self.inline_images_max_bytes
        if limit is None:
            return set()
        images = {
            Path(media_url(item)) for _, item in self.items() if isinstance(item, ImageContent) and is_local(media_url(item))
        }
        return {path for path in images if path.stat().st_size <= limit}

    def local_files(self) -> list[Path]:
        """Local media files the spec refers to, in request order, without repeats."""
        seen: dict[Path, None] = {}
        for _, item in self.items():
            if isinstance(item, (ImageContent, VideoContent, AudioContent)) and is_local(media_url(item)):
                seen.setdefault(Path(media_url(item)), None)
        return list(seen)

    def s3_objects(self) -> list[str]:
        """The `s3://` objects the spec refers to, in request order, without repeats: presigned, never copied."""
        seen: dict[str, None] = {}
        for _, item in self.items():
            if isinstance(item, (ImageContent, VideoContent, AudioContent)) and is_s3(media_url(item)):
                seen.setdefault(media_url(item), None)
        return list(seen)

    def to_request(
        self, default_model: str, url_for: Callable[[Path], str], s3_url_for: Callable[[str], str] | None = None
    ) -> CreateTaskRequest:
        """The Ark request, with each local file's URL given by `url_for` and, with `s3_url_for`,
        each `s3://` object's (without it they stay `s3://`, as an intent key wants them)."""
        content: list[ContentItem] = []
        for _, item in self.items():
            if isinstance(item, (ImageContent, VideoContent, AudioContent)):
                url = media_url(item)
                if is_local(url):
                    item = _with_url(item, url_for(Path(url)))
                elif is_s3(url) and s3_url_for is not None:
                    item = _with_url(item, s3_url_for(url))
            content.append(item)
        fields = self.model_dump(
            exclude={"model", "content", "prompt", "references", "name", "postprocess", "inline_images_max_bytes"},
            exclude_none=True,
        )
        return CreateTaskRequest(model=self.model or default_model, content=content, **fields)

    def with_task_type(self, default_model: str, dialect: Dialect | None = None) -> GenerationSpec:
        """This spec with `omni_reference_task_type` set where its media make the type clear.

        Sent explicitly, the type makes Ark check its constraints at create, before anything is paid
        (ark-api-updates.md §1.2). Only for models whose catalog entry lists task types, and gateways
        that document the field; a type the spec names itself is kept.
        """
        spec = find_model(self.model or default_model)
        takes_field = (
            dialect is None or dialect.documented_fields is None or "omni_reference_task_type" in dialect.documented_fields
        )
        if self.omni_reference_task_type is not None or spec is None or not spec.task_types or not takes_field:
            return self
        task_type = infer_task_type(self.to_request(default_model, lambda path: path.as_uri()), spec)
        return self if task_type is None else self.model_copy(update={"omni_reference_task_type": task_type})

    def relative_to(self, base: Path | str) -> GenerationSpec:
        """The same spec with relative local paths taken from `base`: a folder, or an S3 "folder"
        (`s3://bucket/prefix/`, for a manifest kept on S3: its relative paths name objects beside it)."""
        content: list[ContentItem] = [
            _with_url(item, _relative_url(media_url(item), base))
            if isinstance(item, (ImageContent, VideoContent, AudioContent))
            else item
            for item in self.content
        ]
        references = [ref.model_copy(update={"url": _relative_url(ref.url, base)}) for ref in self.references]
        return self.model_copy(update={"content": content, "references": references})

    def preflight(self, default_model: str, dialect: Dialect | None = None) -> CreateTaskRequest:
        """Check everything that can be checked without the network; raise SpecError listing every problem.

        Local media are probed (type from the content, sizes, durations, fps) against the limits
        Ark applies, so a reference Ark would refuse is never uploaded. With a `dialect`, what
        that gateway does not document is refused too.

        Returns the request with local files standing in as `file://` URLs.
        """
        items = self.items()
        origins = [origin for origin, _ in items]
        problems: list[Problem] = []
        references: list[ReferenceMedia] = []
        for i, (origin, item) in enumerate(items):
            if not isinstance(item, (ImageContent, VideoContent, AudioContent)):
                continue
            if is_s3(media_url(item)):
                try:
                    S3Object.parse(media_url(item))
                except ValueError as exc:
                    problems.append(Problem(field=origin, message=str(exc)))
                continue
            if not is_local(media_url(item)):
                continue
            path = Path(media_url(item))
            if not path.is_file():
                problems.append(Problem(field=origin, message=f"file not found: {path}"))
                continue
            try:
                references.append(ReferenceMedia.of(i, item, probe(path)))
            except MediaError as exc:
                problems.append(Problem(field=origin, message=f"{path.name}: {exc}"))
        placeholder = self.to_request(
            default_model,
            lambda path: f"https://local.invalid/{path.name}",
            lambda url: f"https://s3.invalid/{url.removeprefix(S3_SCHEME)}",
        )
        problems += [_rename(problem, origins) for problem in check_request(placeholder)]
        problems += [_rename(problem, origins) for problem in reference_problems(references, find_model(placeholder.model))]
        if dialect is not None:
            problems += dialect.problems(placeholder)
        if problems:
            raise SpecError(problems)
        return self.to_request(default_model, lambda path: path.resolve().as_uri())


SPEC_FIELDS: Final = frozenset(GenerationSpec.model_fields)
"""The fields a spec file may hold: the Ark body's and the shorthands."""


def is_local(url: str) -> bool:
    return not url.startswith(REMOTE_PREFIXES)


def load_spec(path: Path) -> GenerationSpec:
    """Read a YAML or JSON spec file; relative local paths are taken from the file's folder.

    Raises:
        SpecError: the file is missing, is not YAML/JSON, or has fields Ark does not know.
    """
    spec, unknown = read_spec(path)
    if unknown:
        raise SpecError(unknown, str(path))
    return spec


def read_spec(path: Path) -> tuple[GenerationSpec, list[Problem]]:
    """`load_spec` that sets the fields it does not know aside: the spec without them, and a problem
    for each (naming the field it most looks like), to report beside what pre-flight finds.

    Raises:
        SpecError: the file is missing, is not YAML/JSON, or a known field has an invalid value
            (the unknown fields are listed too).
    """
    data = read_mapping(path, "an Ark request body")
    unknown = unknown_fields(data, SPEC_FIELDS)
    try:
        spec = GenerationSpec.model_validate({key: value for key, value in data.items() if key in SPEC_FIELDS})
    except ValidationError as exc:
        raise SpecError(unknown + problems_from_validation_error(exc), str(path)) from None
    return spec.relative_to(path.parent), unknown


def _relative_url(url: str, base: Path | str) -> str:
    return url if not is_local(url) else join(str(base), url)


def _with_url(item: ImageContent | VideoContent | AudioContent, url: str) -> ImageContent | VideoContent | AudioContent:
    media = MediaURL(url=url)
    if isinstance(item, ImageContent):
        return item.model_copy(update={"image_url": media})
    if isinstance(item, VideoContent):
        return item.model_copy(update={"video_url": media})
    return item.model_copy(update={"audio_url": media})


def _origin_of(origins: list[str], index: int) -> str:
    return origins[index] if index < len(origins) else f"content[{index}]"


def _rename(problem: Problem, origins: list[str]) -> Problem:
    """Name a request field (`content[2].role`) by where it is in the spec (`references[0].role`)."""
    if not problem.field.startswith("content["):
        return problem
    index_text, _, rest = problem.field[len("content[") :].partition("]")
    origin = _origin_of(origins, int(index_text))
    if origin == "prompt":
        rest = ""  # the prompt is the text item itself
    elif origin.startswith("references[") and rest.startswith((".image_url", ".video_url", ".audio_url")):
        rest = ".url"
    return problem.model_copy(update={"field": origin + rest})
