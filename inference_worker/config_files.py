"""Loading the YAML files marketers edit (taxonomy, score weights) into pydantic models."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def load_yaml_model(
    path: Path, model: type[M], error: type[ValueError], what: str, expected: str | None = None
) -> M:
    """Parse `path` into `model`; every problem becomes one `error` naming the file.

    `expected` describes the top-level mapping, for a clearer message when the file is not one.
    """
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise error(f"{path}: {what} not found") from exc
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc
    if expected and not isinstance(raw, dict):
        raise error(f"{path}: expected {expected}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<top>'}: {err['msg']}" for err in exc.errors()
        )
        raise error(f"{path}: {problems}") from exc
