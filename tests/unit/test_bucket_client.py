"""One S3 client per set of credentials in a process: a batch kept in S3 asks for one several times
per item, and making one costs tens of milliseconds of CPU."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from prefect_aws import AwsCredentials, S3Bucket
from prefect_aws.client_parameters import AwsClientParameters
from pydantic import SecretStr

from blocks.bucket import s3_client


def bucket(secret: str = "secret-1", endpoint: str = "http://127.0.0.1:9000") -> S3Bucket:
    credentials = AwsCredentials(
        aws_access_key_id="key-id",
        aws_secret_access_key=SecretStr(secret),
        region_name="us-east-1",
        aws_client_parameters=AwsClientParameters(endpoint_url=endpoint),
    )
    return S3Bucket(bucket_name="assets", credentials=credentials)


def test_equal_credentials_share_one_client_across_threads() -> None:
    with ThreadPoolExecutor(8) as pool:
        clients = list(pool.map(lambda _: s3_client(bucket()), range(16)))
    assert len({id(client) for client in clients}) == 1
    assert clients[0].meta.endpoint_url == "http://127.0.0.1:9000"
    url = clients[0].generate_presigned_url("get_object", Params={"Bucket": "assets", "Key": "a.png"})
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url  # SigV4, as Ark needs


def test_other_credentials_or_endpoint_get_their_own_client() -> None:
    first = s3_client(bucket())
    assert s3_client(bucket(secret="secret-2")) is not first
    other = s3_client(bucket(endpoint="http://127.0.0.1:9001"))
    assert other is not first and other.meta.endpoint_url == "http://127.0.0.1:9001"


def test_a_change_to_boto3s_environment_gets_a_new_client(monkeypatch: pytest.MonkeyPatch) -> None:
    from_environment = S3Bucket(bucket_name="assets", credentials=AwsCredentials())
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "env-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9100")
    first = s3_client(from_environment)
    assert s3_client(from_environment) is first and first.meta.endpoint_url == "http://127.0.0.1:9100"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9200")
    moved = s3_client(from_environment)
    assert moved is not first and moved.meta.endpoint_url == "http://127.0.0.1:9200"
