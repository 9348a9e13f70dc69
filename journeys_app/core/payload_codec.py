"""Temporal payloads encrypted with AES-256-GCM, so run inputs, step results and signals (names,
messages, drafted copy) never reach Temporal's history in clear.

Each payload names its key id in its metadata and binds it as associated data. Payloads written
before encryption was on, or by a process with it off, pass through decode unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from journeys_app.core.payload_keys import PayloadKeys

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class PayloadDecryptError(ValueError):
    pass


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: PayloadKeys) -> None:
        self._current = keys.current
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        cipher, key_id = self._ciphers[self._current], self._current.encode()
        out = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), key_id)
            out.append(Payload(metadata={"encoding": ENCODING, KEY_ID: key_id}, data=nonce + sealed))
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._open(p) if p.metadata.get("encoding") == ENCODING else p for p in payloads]

    def _open(self, payload: Payload) -> Payload:
        key_id = payload.metadata.get(KEY_ID, b"")
        cipher = self._ciphers.get(key_id.decode(errors="replace"))
        if cipher is None:
            raise PayloadDecryptError(
                f"payload encrypted with key {key_id.decode(errors='replace')!r}, which this process "
                "does not hold: keep old keys in JOURNEYS_PAYLOAD_KEYS (or the key file) after a rotation"
            )
        try:
            plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], key_id)
        except InvalidTag as exc:
            raise PayloadDecryptError(f"payload under key {key_id.decode()!r} was altered") from exc
        return Payload.FromString(plain)
