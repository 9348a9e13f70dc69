"""Payload encryption: what reaches Temporal is sealed, rotation keeps old runs readable, and a
missing or altered key is a clear error rather than garbage."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload

from journeys_app.core.payload_codec import ENCODING, EncryptionCodec, PayloadDecryptError
from journeys_app.core.payload_keys import PayloadKeyError, key_file, load_payload_keys, rotate_key_file
from journeys_app.core.settings import Settings
from journeys_app.core.temporal import data_converter
from tests.cli import journeys

SECRET = "Ava Moreau, my parcel arrived broken"


@pytest.fixture(autouse=True)
def _no_session_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings merge a dict from the environment into one given here: drop the test session's key."""
    monkeypatch.delenv("JOURNEYS_PAYLOAD_KEYS", raising=False)


def _key() -> str:
    return base64.b64encode(bytes(range(32))).decode()


def _file_settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path, payload_keys={})  # the embedded default: a key file


async def test_payloads_leave_sealed_and_come_back_whole(tmp_path: Path):
    converter = data_converter(_file_settings(tmp_path))
    [sealed] = await converter.encode([{"text": SECRET}])
    assert sealed.metadata["encoding"] == ENCODING and SECRET.encode() not in sealed.SerializeToString()
    assert await converter.decode([sealed], [dict]) == [{"text": SECRET}]


async def test_a_rotated_key_encrypts_while_the_old_one_still_decrypts(tmp_path: Path):
    settings = _file_settings(tmp_path)
    [old] = await data_converter(settings).encode([SECRET])
    first = load_payload_keys(settings).current
    new_id = rotate_key_file(settings)
    assert new_id != first and load_payload_keys(settings).current == new_id
    converter = data_converter(settings)
    [new] = await converter.encode([SECRET])
    assert new.metadata["encryption-key-id"] == new_id.encode()
    assert old.metadata["encryption-key-id"] == first.encode()
    assert await converter.decode([old, new], [str, str]) == [SECRET, SECRET]
    # A process without the old key says which key it misses.
    keys = json.loads(key_file(settings).read_text())
    only_new = Settings(state_dir=tmp_path, payload_keys={new_id: keys["keys"][new_id]})
    with pytest.raises(PayloadDecryptError, match=first):
        await data_converter(only_new).decode([old], [str])


async def test_keys_from_settings_and_payloads_written_in_clear(tmp_path: Path):
    settings = Settings(state_dir=tmp_path, payload_keys={"k-a": _key()})
    converter = data_converter(settings)
    plain = Settings(state_dir=tmp_path, payload_encryption=False)
    [clear] = await data_converter(plain).encode([SECRET])  # a run from before encryption
    assert clear.metadata["encoding"] != ENCODING
    assert await converter.decode([clear], [str]) == [SECRET]
    assert not key_file(settings).exists()  # keys from settings: no key file is made


async def test_an_altered_payload_is_refused(tmp_path: Path):
    codec = EncryptionCodec(load_payload_keys(_file_settings(tmp_path)))
    [sealed] = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')])
    sealed.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(PayloadDecryptError, match="altered"):
        await codec.decode([sealed])


@pytest.mark.parametrize(
    ("keys", "key_id", "message"),
    [
        ({"k-a": "c2hvcnQ="}, "", "must be 32 random bytes in base64"),
        ({"k-a": "not base64!"}, "", "must be 32 random bytes in base64"),
        ({"k-a": _key(), "k-b": _key()}, "", "JOURNEYS_PAYLOAD_KEY_ID must name one of"),
        ({"k-a": _key()}, "k-z", "JOURNEYS_PAYLOAD_KEY_ID must name one of JOURNEYS_PAYLOAD_KEYS \\(k-a\\)"),
    ],
)
def test_unusable_keys_say_which_setting_to_fix(
    tmp_path: Path, keys: dict[str, str], key_id: str, message: str
):
    with pytest.raises(PayloadKeyError, match=message):
        load_payload_keys(Settings(state_dir=tmp_path, payload_keys=keys, payload_key_id=key_id))


def test_the_key_file_is_made_once_owner_only_and_shared(tmp_path: Path):
    settings = _file_settings(tmp_path)
    first = load_payload_keys(settings)
    assert load_payload_keys(settings) == first  # a second process reads the same key
    assert key_file(settings).stat().st_mode & 0o777 == 0o600
    key_file(settings).write_text("{")
    with pytest.raises(PayloadKeyError, match="is not a payload key file"):
        load_payload_keys(settings)


def test_rotation_with_keys_in_settings_is_refused_with_the_way_to_rotate(tmp_path: Path):
    with pytest.raises(PayloadKeyError, match="add a new key there"):
        rotate_key_file(Settings(state_dir=tmp_path, payload_keys={"k-a": _key()}))


def test_journeys_payload_keys_rotate(tmp_path: Path):
    env = {"JOURNEYS_STATE_DIR": str(tmp_path), "JOURNEYS_PAYLOAD_KEYS": "{}"}
    done = journeys("payload-keys", "rotate", env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    keys = json.loads((tmp_path / "payload_keys.json").read_text())
    assert len(keys["keys"]) == 2 and f"new payload key {keys['current']}" in done.stdout
    refused = journeys("payload-keys", "rotate", env={"JOURNEYS_PAYLOAD_KEYS": json.dumps({"k-a": _key()})})
    assert refused.returncode == 1 and "add a new key there" in refused.stdout + refused.stderr


def test_a_setting_that_does_not_parse_is_one_clear_line():
    done = journeys("payload-keys", "rotate", env={"JOURNEYS_PAYLOAD_KEYS": "k-a=abc"}, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert 'error parsing value for field "payload_keys"' in done.stderr.replace("\n", " ")
