"""The journey worker's activities in one object, built once per process with its dependencies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from activities.delivery import DeliveryActivities
from activities.notify import NotifyActivities
from activities.profile import ProfileActivities
from activities.record_dead_letter import DeadLetterActivities
from activities.reviewer_check import ReviewerActivities
from activities.store import StoreActivities


class JourneyActivities(
    StoreActivities,
    DeliveryActivities,
    ProfileActivities,
    NotifyActivities,
    DeadLetterActivities,
    ReviewerActivities,
):
    """`JourneyActivities(sessionmaker, settings)`; register `.all()` with the journey worker."""

    def all(self) -> list[Callable[..., Any]]:
        """The bound activity methods, for `Worker(..., activities=acts.all())`."""
        return [
            self.load_customer,
            self.record_run,
            self.begin_run,
            self.record_step,
            self.record_steps,
            self.finish_run,
            self.record_review,
            self.check_reviewer,
            self.send_message,
            self.update_profile,
            self.notify,
            self.record_dead_letter,
        ]
