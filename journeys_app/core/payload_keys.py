"""The keys that encrypt Temporal payloads: from settings, or a key file in the state folder.

One key encrypts (the current one); every key listed decrypts, so a rotation adds a key and makes it
current while runs written under the old one still read. Key ids are random names, never secrets.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from journeys_app.core.settings import Settings
from journeys_app.core.state_secrets import kept_secret

KEY_BYTES = 32  # AES-256


class PayloadKeyError(ValueError):
    """The configured keys cannot be used; the message says which setting to fix."""


@dataclass(frozen=True)
class PayloadKeys:
    current: str
    keys: dict[str, bytes]


def new_key_id() -> str:
    return f"k-{secrets.token_hex(4)}"


def _new_key() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def key_file(settings: Settings) -> Path:
    return settings.state_dir / "payload_keys.json"


def _decoded(keys: dict[str, str], where: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for key_id, text in keys.items():
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != KEY_BYTES:
            raise PayloadKeyError(
                f"{where}: key {key_id!r} must be {KEY_BYTES} random bytes in base64 "
                "(make one with `openssl rand -base64 32`)"
            )
        out[key_id] = raw
    return out


def _from_file(settings: Settings) -> PayloadKeys:
    path = key_file(settings)
    first = new_key_id()
    text = kept_secret(path, lambda: json.dumps({"current": first, "keys": {first: _new_key()}}, indent=2))
    try:
        data = json.loads(text)
        current, keys = str(data["current"]), dict(data["keys"])
    except (ValueError, KeyError, TypeError) as exc:
        raise PayloadKeyError(f"{path} is not a payload key file ({exc}): restore it from a backup") from exc
    if current not in keys:
        raise PayloadKeyError(f"{path}: the current key {current!r} is not among its keys")
    return PayloadKeys(current, _decoded(keys, str(path)))


def load_payload_keys(settings: Settings) -> PayloadKeys:
    if not settings.payload_keys:
        return _from_file(settings)
    keys = _decoded(settings.payload_keys, "JOURNEYS_PAYLOAD_KEYS")
    current = settings.payload_key_id or (next(iter(keys)) if len(keys) == 1 else "")
    if current not in keys:
        raise PayloadKeyError(
            "JOURNEYS_PAYLOAD_KEY_ID must name one of JOURNEYS_PAYLOAD_KEYS "
            f"({', '.join(keys)}): the key that encrypts new payloads"
        )
    return PayloadKeys(current, keys)


def rotate_key_file(settings: Settings) -> str:
    """Add a new key to the state folder's key file and make it current; returns its id."""
    if settings.payload_keys:
        raise PayloadKeyError(
            "the keys come from JOURNEYS_PAYLOAD_KEYS: add a new key there (keep the old ones) and "
            "point JOURNEYS_PAYLOAD_KEY_ID at it"
        )
    keys = _from_file(settings)
    key_id = new_key_id()
    data = {
        "current": key_id,
        "keys": {**{k: base64.b64encode(v).decode() for k, v in keys.keys.items()}, key_id: _new_key()},
    }
    path = key_file(settings)
    staged = path.with_suffix(".new")
    staged.write_text(json.dumps(data, indent=2))
    staged.chmod(0o600)
    staged.replace(path)
    return key_id
