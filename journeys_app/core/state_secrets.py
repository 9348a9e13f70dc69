"""Secrets an embedded deployment makes once and keeps in its state folder (one host only).

Several processes may start together (`journeys up`, a worker beside it): the first to create the
file wins, the others read what it wrote, so they all hold the same secret.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def kept_secret(path: Path, make: Callable[[], str]) -> str:
    """The secret in `path`, made with `make` and written owner-only if the file does not exist."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w") as out:
                out.write(make())
    return path.read_text().strip()
