"""Callback URLs: signed per intent, checked without state, never showing the secret; added to creates
and listened for only when callbacks are set up."""

from __future__ import annotations

import logging

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from pydantic import SecretStr

from blocks.gateway import SeedanceGateway
from seedance.ark.dialects import get_dialect
from seedance.ark.types import CreateTaskRequest, TextContent
from seedance.callbacks import SECRET_ENV, CallbackSigner, event_id, with_callback
from tasks.callbacks import callback_request, callback_wake

SECRET = "a-shared-callback-secret-7d41"
KEY = "3f2a9c0d1e4b5a6978877665544332211"
BASE = "http://receiver:8790"


@pytest.fixture
def signer() -> CallbackSigner:
    return CallbackSigner(SecretStr(SECRET))


def request(**fields: object) -> CreateTaskRequest:
    return CreateTaskRequest.model_validate(
        {"model": "doubao-seedance-2-0-260128", "content": [TextContent(text="a lantern")], **fields}
    )


def path_with_token_of(key: str) -> str:
    return CallbackSigner(SecretStr(SECRET)).url(BASE, key).removeprefix(BASE)


def test_a_url_names_its_intent_and_carries_a_token_only_the_secret_makes(signer: CallbackSigner) -> None:
    url = signer.url(BASE + "/", KEY)
    path = url.removeprefix(BASE)
    prefix, token = path.rsplit("/", 1)
    assert prefix == f"/callbacks/{KEY}"
    assert signer.url(BASE, KEY) == url  # the same intent always gets the same URL
    assert signer.intent_of(path) == KEY
    assert signer.intent_of(path + "/") == KEY
    assert signer.intent_of(path + "?attempt=2") == KEY
    assert signer.intent_of("/behind/a/proxy" + path) == KEY
    assert SECRET not in url


@pytest.mark.parametrize(
    "path",
    [
        "/callbacks/" + KEY,
        "/callbacks/" + KEY + "/" + "0" * 64,
        "/callbacks//" + "0" * 64,
        "/other/" + KEY + "/" + "0" * 64,
        path_with_token_of(KEY) + "/more",
        "/",
    ],
)
def test_paths_without_a_valid_token_are_refused(signer: CallbackSigner, path: str) -> None:
    assert signer.intent_of(path) is None


def test_a_token_is_good_for_its_own_intent_and_secret_only(signer: CallbackSigner) -> None:
    token = signer.url(BASE, KEY).rsplit("/", 1)[1]
    assert signer.intent_of(f"/callbacks/{KEY[:-1]}0/{token}") is None
    other = CallbackSigner(SecretStr("another-secret"))
    assert other.intent_of(signer.url(BASE, KEY).removeprefix(BASE)) is None


def test_the_secret_never_shows(signer: CallbackSigner, monkeypatch: pytest.MonkeyPatch) -> None:
    assert SECRET not in repr(signer) and SECRET not in str(signer)
    monkeypatch.delenv(SECRET_ENV, raising=False)
    assert CallbackSigner.from_environment() is None
    monkeypatch.setenv(SECRET_ENV, SECRET)
    from_env = CallbackSigner.from_environment()
    assert from_env is not None and from_env.url(BASE, KEY) == signer.url(BASE, KEY)
    with pytest.raises(ValueError, match=SECRET_ENV):
        CallbackSigner(SecretStr(""))


def test_a_request_gets_its_callback_only_when_callbacks_are_set_up(signer: CallbackSigner) -> None:
    ark = get_dialect("ark")
    sent = with_callback(request(), KEY, base_url=BASE, signer=signer, dialect=ark)
    assert sent.callback_url == signer.url(BASE, KEY)
    assert with_callback(request(), KEY, base_url=BASE, signer=signer, dialect=ark).to_body() == sent.to_body()

    assert with_callback(request(), KEY, base_url=None, signer=signer, dialect=ark).callback_url is None
    assert with_callback(request(), KEY, base_url=BASE, signer=None, dialect=ark).callback_url is None
    # a gateway that does not document callback_url would refuse the whole request
    assert with_callback(request(), KEY, base_url=BASE, signer=signer, dialect=get_dialect("kkiai")).callback_url is None
    own = request(callback_url="https://example.com/mine")
    assert with_callback(own, KEY, base_url=BASE, signer=signer, dialect=ark).callback_url == "https://example.com/mine"


def test_every_delivery_of_one_status_is_one_event() -> None:
    assert event_id("cgt-1", "running") == event_id("cgt-1", "running")
    assert len({event_id("cgt-1", "running"), event_id("cgt-1", "succeeded"), event_id("cgt-2", "running")}) == 3


def test_a_worker_without_the_secret_says_so_and_creates_without_a_callback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, signer: CallbackSigner
) -> None:
    gateway = SeedanceGateway(api_key=SecretStr("k"))
    logger = logging.getLogger("test.callbacks")
    monkeypatch.setenv("SEEDANCE_CALLBACK_URL", BASE)
    monkeypatch.delenv(SECRET_ENV, raising=False)
    assert callback_request(request(), KEY, gateway, logger).callback_url is None
    assert f"SEEDANCE_CALLBACK_URL is set but {SECRET_ENV} is not" in caplog.text

    monkeypatch.setenv(SECRET_ENV, SECRET)
    assert callback_request(request(), KEY, gateway, logger).callback_url == signer.url(BASE, KEY)


def test_waiting_listens_only_where_callbacks_can_be_heard(monkeypatch: pytest.MonkeyPatch) -> None:
    logger = logging.getLogger("test.callbacks")
    monkeypatch.delenv("SEEDANCE_CALLBACK_URL", raising=False)
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}), callback_wake("cgt-1", logger) as wake:
        assert wake is None
    monkeypatch.setenv("SEEDANCE_CALLBACK_URL", BASE)
    # no Prefect server to share with the receiver: listening would only start a private one
    with temporary_settings(restore_defaults={PREFECT_API_URL}), callback_wake("cgt-1", logger) as wake:
        assert wake is None
