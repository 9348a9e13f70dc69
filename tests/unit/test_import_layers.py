"""The layers contract of `make lint` holds for the tree and catches an import that points up."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from journeys_app.core.settings import PROJECT_ROOT

PACKAGES = ("journeys_app", "workflows", "activities", "inference_worker")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(PROJECT_ROOT / "pyproject.toml"), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_keeps_its_layers() -> None:
    done = _lint(PROJECT_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    skip = shutil.ignore_patterns("__pycache__")
    for package in PACKAGES:
        shutil.copytree(PROJECT_ROOT / package, tmp_path / package, ignore=skip)
    spec = tmp_path / "workflows" / "spec.py"
    spec.write_text(
        spec.read_text(encoding="utf-8") + "\nimport journeys_app.edges.cli  # the engine reaches up\n"
    )
    done = _lint(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "workflows.spec -> journeys_app.edges.cli" in done.stdout
