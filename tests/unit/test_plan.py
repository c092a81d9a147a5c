"""Plans: the intent key and request of a spec, worked out before anything is sent."""

from __future__ import annotations

import shutil
from pathlib import Path

from seedance.ark.dialects import DialectName, get_dialect
from seedance.files import sha256_file
from seedance.intents import intent_key, intent_seed
from seedance.plan import plan_submission
from seedance.spec import GenerationSpec

MODEL = "doubao-seedance-2-0-260128"
URL = "http://gw.test/api/v3"


def spec_with_image(tmp_path: Path, media_dir: Path) -> GenerationSpec:
    image = Path(shutil.copy(media_dir / "frame_640x360.jpg", tmp_path / "frame.jpg"))
    return GenerationSpec(prompt="a boat", references=[{"url": str(image), "role": "first_frame"}], duration=5)


def test_the_key_counts_local_files_by_content_and_a_random_seed_comes_from_the_key(tmp_path: Path, media_dir: Path) -> None:
    spec = spec_with_image(tmp_path, media_dir)
    plan = plan_submission(spec, gateway_url=URL, default_model=MODEL, dialect=get_dialect(DialectName.ARK))
    digest = sha256_file(tmp_path / "frame.jpg")
    keyed = spec.to_request(MODEL, lambda path: f"sha256:{digest}")
    assert plan.intent_key == intent_key(URL, keyed.to_body(), None)
    assert plan.digests == {tmp_path / "frame.jpg": digest}
    assert plan.spec.seed == intent_seed(plan.intent_key)
    request = plan.request(lambda path: f"https://s3.test/{path.name}")
    assert request.model == MODEL and request.seed == plan.spec.seed
    assert request.to_body()["content"][1]["image_url"]["url"] == "https://s3.test/frame.jpg"


def test_a_salt_is_a_new_generation_and_a_seed_of_the_spec_s_own_is_kept(tmp_path: Path, media_dir: Path) -> None:
    spec = spec_with_image(tmp_path, media_dir).model_copy(update={"seed": 7})
    dialect = get_dialect(DialectName.ARK)
    plain = plan_submission(spec, gateway_url=URL, default_model=MODEL, dialect=dialect)
    salted = plan_submission(spec, gateway_url=URL, default_model=MODEL, dialect=dialect, salt="new")
    assert plain.intent_key != salted.intent_key
    assert plain.spec.seed == salted.spec.seed == 7


def test_a_gateway_that_documents_no_seed_gets_none(tmp_path: Path, media_dir: Path) -> None:
    dialect = get_dialect(DialectName.KKIAI)
    assert dialect.documented_fields is not None and "seed" not in dialect.documented_fields
    plan = plan_submission(spec_with_image(tmp_path, media_dir), gateway_url=URL, default_model=MODEL, dialect=dialect)
    assert plan.spec.seed is None
