"""What every store-backed activity class shares: the session factory, settings, profile mapping."""

from __future__ import annotations

from typing import TYPE_CHECKING

from journeys_app.store.engine import SessionMaker

if TYPE_CHECKING:
    from journeys_app.core.settings import Settings


class StoreActivityBase:
    """Holds the dependencies; activity methods live in the subclasses (one job per module)."""

    def __init__(self, sessionmaker: SessionMaker, settings: Settings) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
