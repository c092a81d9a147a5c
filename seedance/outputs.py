"""Where outputs stay: a local folder or an S3 prefix, with a place of its own for every generation. No Prefect.

    <out>/<name>/<task id>/                a generation: <name>.mp4, <name>.poster.jpg, <name>.last.png,
                                           post-processing outputs, result.json
    <out>/<storyboard>/shot-NN/<task id>/  a storyboard's shots, and beside them
    <out>/<storyboard>/<cut id>/           its cut, <cut id> a digest of the shots' tasks and the loudness

`out` is a local folder or `s3://bucket/prefix`. A place belongs to one task, so no generation
overwrites another's files whatever their names, and a re-run of the same task finds its outputs
there (`find_result`) instead of downloading them again. For S3 the run makes its files in a local
staging folder (`workspace`) and uploads them (`upload`), `result.json` last: a `result.json` in
S3 means every file it lists is there.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from botocore.exceptions import ClientError
from pydantic import ValidationError

from seedance.errors import ConfigurationError, Problem, SpecError
from seedance.files import sha256_file
from seedance.results import GenerationResult, OutputFiles
from seedance.storage import is_missing, s3_errors, transfer_config

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client  # the stubs' types of boto3's S3 client (dev only)
    from types_boto3_s3.type_defs import HeadObjectOutputTypeDef

S3_SCHEME: Final = "s3://"
RESULT_FILE: Final = "result.json"
VIDEO_SHA256: Final = "video-sha256"
"""The metadata key of an uploaded output that holds its video's sha256: S3 vouches for a video without a download."""


@dataclass(frozen=True)
class Folder:
    """A folder of outputs: local (`bucket` None, `path` absolute) or in S3 (`path` the key prefix, no slash at its ends).

    Example:
        >>> Folder.parse("s3://assets/outputs/").join("boat", "cgt-1").location("boat.mp4")
        's3://assets/outputs/boat/cgt-1/boat.mp4'
    """

    bucket: str | None
    path: str

    @classmethod
    def parse(cls, out: str) -> Folder:
        """`s3://bucket/prefix` (the prefix may be empty), or a local folder made absolute from the working folder.

        Raises:
            SpecError: an s3:// URL that names no bucket.
        """
        if out.startswith(S3_SCHEME):
            bucket, _, prefix = out.removeprefix(S3_SCHEME).partition("/")
            if not bucket:
                raise SpecError([Problem(field="out", message=f"{out!r} names no bucket; expected s3://bucket/prefix")])
            return cls(bucket=bucket, path=prefix.strip("/"))
        return cls(bucket=None, path=str(Path(out).expanduser().resolve()))

    @property
    def in_s3(self) -> bool:
        return self.bucket is not None

    def join(self, *names: str) -> Folder:
        """The sub-folder `names` (one folder name each) of this folder.

        Raises:
            SpecError: a name that is not one folder name (it could reach outside this folder).
        """
        for name in names:
            check_name(name)
        if self.bucket is None:
            return Folder(bucket=None, path=str(Path(self.path, *names)))
        return Folder(bucket=self.bucket, path=self.key(*names))

    def key(self, *names: str) -> str:
        """The S3 key of `names` below this folder."""
        return "/".join(part for part in (self.path, *names) if part)

    def location(self, filename: str) -> str:
        """Where a file of this folder is: its absolute local path or its s3:// URI."""
        return str(Path(self.path, filename)) if self.bucket is None else f"{S3_SCHEME}{self.bucket}/{self.key(filename)}"

    def __str__(self) -> str:
        """The folder as `Folder.parse` reads it back."""
        return self.path if self.bucket is None else f"{S3_SCHEME}{self.bucket}/{self.path}".rstrip("/")


def check_name(name: str) -> None:
    """Refuse a name that is not exactly one folder name: every output must stay below `out`.

    Raises:
        SpecError: the name is empty, `.`, `..`, or holds a slash.
    """
    if name in ("", ".", "..") or "/" in name or "\\" in name:
        raise SpecError([Problem(field="name", message=f"{name!r} cannot name a folder of outputs (no slashes, not . or ..)")])


def cut_place(board: Folder, task_ids: Sequence[str], loudness: float) -> Folder:
    """The place of a storyboard's cut, beside its shots in `board`.

    Named by a digest of what the cut is made of (the shots' tasks in order, and the loudness): a
    re-run with the same shots finds it, a cut of other shots never overwrites it.
    """
    digest = hashlib.sha256(json.dumps([list(task_ids), loudness]).encode()).hexdigest()
    return board.join(digest[:16])


@contextmanager
def workspace(place: Folder) -> Iterator[Path]:
    """The local folder where the files of `place` are made.

    A local place is its own workspace. For S3 it is a temporary staging folder, removed on exit
    (after the upload): a worker keeps nothing, and its temporary folder can never be the only copy.
    """
    if place.bucket is None:
        yield Path(place.path)
        return
    with tempfile.TemporaryDirectory(prefix="seedance-staging-") as staging:
        yield Path(staging)


def output_paths(files: OutputFiles) -> list[Path]:
    """Every file of a generation, `result.json` last: uploaded in this order, a kept result.json means the rest is kept."""
    made = [files.video, files.poster, files.last_frame, *files.postprocessed.values()]
    return [path for path in made if path is not None and path != files.result] + [files.result]


def locations(files: OutputFiles, place: Folder) -> dict[str, str]:
    """Where each file is kept in `place`, by role: video, poster, last_frame, result, and each post-processing step."""
    roles: dict[str, Path | None] = {
        "video": files.video,
        "poster": files.poster,
        "last_frame": files.last_frame,
        **files.postprocessed,
        "result": files.result,
    }
    return {role: place.location(path.name) for role, path in roles.items() if path is not None}


def output_metadata(result: GenerationResult) -> dict[str, str]:
    """The task's facts, stored with each of its files in S3 (`VIDEO_SHA256` lets a re-run trust the video)."""
    return {"task-id": result.task_id, "model": result.model, "gateway": result.gateway, VIDEO_SHA256: result.video.sha256}


def find_result(place: Folder, task_id: str, s3: S3Client | None) -> GenerationResult | None:
    """The result an earlier run of task `task_id` kept at `place`, when its video is there intact; else None.

    Intact: a local video whose sha256 is the one `result.json` records, or an S3 object whose
    `VIDEO_SHA256` metadata and size are (S3 vouches for it: nothing is downloaded). A result.json
    that is unreadable, of another task, or without its video is no result: the run makes the
    outputs again, over it.
    """
    text = _read_text(place, RESULT_FILE, s3)
    if text is None:
        return None
    try:
        result = GenerationResult.model_validate_json(text)
    except ValidationError:
        return None
    if result.task_id != task_id:
        return None
    video = result.files.video.name
    if place.bucket is None:
        path = Path(place.path, video)
        intact = path.is_file() and sha256_file(path) == result.video.sha256
    else:
        head = _head(_client(s3, place), place.bucket, place.key(video))
        intact = (
            head is not None
            and head["Metadata"].get(VIDEO_SHA256) == result.video.sha256
            and head["ContentLength"] == result.video.size_bytes
        )
    return result if intact else None


def upload(files: Sequence[Path], place: Folder, metadata: dict[str, str], s3: S3Client) -> list[str]:
    """Upload `files` to the S3 `place`, in order, each with `metadata` and its content type; their s3:// URIs."""
    assert place.bucket is not None, "only an S3 place is uploaded to"
    for path in files:
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        extra = {"Metadata": metadata, "ContentType": content_type}
        with s3_errors("upload to", place.location(path.name)):
            s3.upload_file(str(path), place.bucket, place.key(path.name), ExtraArgs=extra, Config=transfer_config())
    return [place.location(path.name) for path in files]


def exists(location: str, s3: S3Client | None) -> bool:
    """Whether an output is at `location` (a local path or an s3:// URI)."""
    if not location.startswith(S3_SCHEME):
        return Path(location).is_file()
    place, name = _split(location)
    assert place.bucket is not None
    return _head(_client(s3, place), place.bucket, place.key(name)) is not None


def fetch(location: str, staging: Path, s3: S3Client | None) -> Path:
    """A local copy of the output at `location`: the file itself when local, else downloaded from S3 into `staging`."""
    if not location.startswith(S3_SCHEME):
        return Path(location)
    place, name = _split(location)
    assert place.bucket is not None
    dest = staging / name
    staging.mkdir(parents=True, exist_ok=True)
    with s3_errors("download of", location):
        _client(s3, place).download_file(place.bucket, place.key(name), str(dest), Config=transfer_config())
    return dest


def _split(uri: str) -> tuple[Folder, str]:
    """The folder and the file name of an s3:// URI."""
    folder, _, name = uri.rpartition("/")
    return Folder.parse(folder), name


def _client(s3: S3Client | None, place: Folder) -> S3Client:
    """The S3 client for a place in S3; without one the run was never given a bucket block."""
    if s3 is None:
        raise ConfigurationError(f"outputs in {place}: pass --bucket NAME (a saved S3Bucket block) or set SEEDANCE_BUCKET")
    return s3


def _read_text(place: Folder, name: str, s3: S3Client | None) -> str | None:
    """The text of file `name` in `place`, or None when it is not there."""
    if place.bucket is None:
        path = Path(place.path, name)
        return path.read_text(encoding="utf-8") if path.is_file() else None
    with s3_errors("read of", place.location(name)):
        try:
            body = _client(s3, place).get_object(Bucket=place.bucket, Key=place.key(name))["Body"]
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise
        return body.read().decode("utf-8")


def _head(s3: S3Client, bucket: str, key: str) -> HeadObjectOutputTypeDef | None:
    """The object's HEAD answer (size, metadata), or None when there is no such object."""
    with s3_errors("read of", f"s3://{bucket}/{key}"):
        try:
            return s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise
