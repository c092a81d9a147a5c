"""What boto3 raises becomes one StorageError line naming the action, the object and S3's reason."""

from __future__ import annotations

import pytest
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError, EndpointConnectionError

from seedance.errors import StorageError, is_retryable
from seedance.storage import s3_errors

URI = "s3://assets/inputs/sha256/ab12.jpg"


def no_such_bucket() -> ClientError:
    answer = {"Error": {"Code": "NoSuchBucket", "Message": "The specified bucket does not exist"}}
    return ClientError(answer, "PutObject")  # type: ignore[arg-type]


def upload_failed() -> S3UploadFailedError:
    try:
        raise no_such_bucket()
    except ClientError as exc:
        try:
            raise S3UploadFailedError(f"Failed to upload lantern.jpg to assets/ab12.jpg: {exc}") from exc
        except S3UploadFailedError as failed:
            return failed


@pytest.mark.parametrize(
    ("raised", "message"),
    [
        (no_such_bucket(), f"S3 upload to {URI} failed: NoSuchBucket: The specified bucket does not exist"),
        (upload_failed(), f"S3 upload to {URI} failed: NoSuchBucket: The specified bucket does not exist"),
        (
            EndpointConnectionError(endpoint_url="http://127.0.0.1:9/assets"),
            f'S3 upload to {URI} failed: Could not connect to the endpoint URL: "http://127.0.0.1:9/assets"',
        ),
    ],
)
def test_what_boto3_raises_is_a_storage_error_that_is_not_retried(raised: Exception, message: str) -> None:
    with pytest.raises(StorageError) as caught, s3_errors("upload to", URI):
        raise raised
    assert str(caught.value) == message
    assert caught.value.__cause__ is raised
    assert not is_retryable(caught.value)  # botocore has retried inside the call


def test_other_errors_pass_through_unchanged() -> None:
    with pytest.raises(KeyError), s3_errors("upload to", URI):
        raise KeyError("not S3's")
