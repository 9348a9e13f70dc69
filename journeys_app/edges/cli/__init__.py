"""`journeys`: the command line for marketers, MA engineers, reviewers and operators.

One module per command group; importing them registers their commands on `app`.
"""

from journeys_app.edges.cli import (  # noqa: F401
    bench,
    evaluation,
    journeys,
    operations,
    processes,
    reports,
    reviews,
    testing,
)
from journeys_app.edges.cli.common import app

__all__ = ["app"]
