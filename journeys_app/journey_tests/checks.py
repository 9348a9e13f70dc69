"""What a case expected against what the run did, as lines a marketer reads: the first step where
the paths part, the message that did not match and why."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from journeys_app.journey_tests.cases import Expect, MessageExpectation, ProfileExpectation
from workflows.durations import format_duration


@dataclass
class SentMessage:
    step: str
    channel: str
    status: str
    subject: str
    body: str
    at: datetime | None  # when the send step finished, in the customer's time


@dataclass
class Actual:
    path: list[str]
    status: str
    outcome: str | None
    goal_reached: bool
    messages: list[SentMessage]
    notifications: list[tuple[str, str]]  # (target, message)
    reviews: dict[str, dict[str, Any]]  # human_review step -> its result
    began: datetime  # the trigger's time, in the customer's time zone
    profile: dict[str, Any] = field(default_factory=dict)  # the customer's record at the end
    runs: int = 1  # runs of the journey for the customer
    review_deadlines: dict[str, datetime] = field(default_factory=dict)  # review step -> last deadline
    visits: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # every step visit, in order
    finished_at: list[datetime | None] = field(default_factory=list)  # of each visit, customer's time


def _path_difference(expected: list[str], actual: list[str]) -> str:
    for index, (want, got) in enumerate(zip(expected, actual, strict=False)):
        if want != got:
            return f"path differs at step {index + 1}: expected '{want}', the run went to '{got}'"
    if len(actual) > len(expected):
        last, more = expected[-1] if expected else "the start", " → ".join(actual[len(expected) :])
        return f"path goes on after '{last}': {more}"
    last, missing = actual[-1] if actual else "the start", " → ".join(expected[len(actual) :])
    return f"path stops after '{last}': expected {missing}"


def _message_problems(want: MessageExpectation, actual: Actual) -> list[str]:
    sent = [m for m in actual.messages if m.channel == want.channel]
    where = f"{want.channel} messages"
    problems: list[str] = []
    matching = [
        m
        for m in sent
        if (want.subject_contains is None or want.subject_contains.lower() in m.subject.lower())
        and (want.body_contains is None or want.body_contains.lower() in m.body.lower())
        and (want.subject_matches is None or re.search(want.subject_matches, m.subject) is not None)
        and (want.body_matches is None or re.search(want.body_matches, m.body) is not None)
        and (want.status is None or m.status == want.status)
    ]
    if len(matching) != want.count:
        detail = (
            "; ".join(f"'{m.subject or m.body[:60]}' from step {m.step} ({m.status})" for m in sent) or "none"
        )
        wanted = " ".join(
            part
            for part in (
                f"subject containing '{want.subject_contains}'" if want.subject_contains else "",
                f"body containing '{want.body_contains}'" if want.body_contains else "",
                f"subject matching /{want.subject_matches}/" if want.subject_matches else "",
                f"body matching /{want.body_matches}/" if want.body_matches else "",
                f"status {want.status}" if want.status else "",
                f"sent after {want.not_before:%H:%M}" if want.not_before else "",
                f"sent before {want.not_after:%H:%M}" if want.not_after else "",
            )
            if part
        )
        wanted = f" with {wanted}" if wanted else ""
        problems.append(f"expected {want.count} {where}{wanted}, found {len(matching)}: {detail}")
    for m in matching:
        local = m.at.time().replace(tzinfo=None) if m.at else None
        early = local is not None and want.not_before is not None and local < want.not_before
        late = local is not None and want.not_after is not None and local > want.not_after
        if early or late:
            assert m.at is not None
            start = want.not_before.strftime("%H:%M") if want.not_before else "00:00"
            window = f"{start}-{want.not_after.strftime('%H:%M') if want.not_after else '24:00'}"
            sent = f"{m.at:%H:%M} {m.at.tzname()}"
            problems.append(f"{want.channel} from step {m.step} went out at {sent}, outside {window}")
    return problems


def _alert_matches(target: str, contains: str | None, sent_to: str, text: str) -> bool:
    return sent_to == target and (contains is None or contains.lower() in text.lower())


def _profile_problems(want: ProfileExpectation, profile: dict[str, Any]) -> list[str]:
    tags, consent, attributes = (
        profile.get("tags", []),
        profile.get("consent", {}),
        profile.get("attributes", {}),
    )
    out = [
        f"tag '{t}' missing (tags: {', '.join(tags) or 'none'})" for t in want.tags_include if t not in tags
    ]
    out += [f"tag '{t}' present, which it should not be" for t in want.tags_exclude if t in tags]
    out += [
        f"consent for {channel}: expected {str(value).lower()}, is {str(consent.get(channel)).lower()}"
        for channel, value in want.consent.items()
        if consent.get(channel) != value
    ]
    out += [
        f"attribute {name}: expected {value!r}, is {attributes.get(name)!r}"
        for name, value in want.attributes.items()
        if attributes.get(name) != value
    ]
    return out


def failures_of(expect: Expect, actual: Actual) -> list[str]:
    out: list[str] = []
    if expect.path is not None and expect.path != actual.path:
        out.append(_path_difference(expect.path, actual.path))
    for step in expect.passes_through:
        if step not in actual.path:
            out.append(f"never reached step '{step}' (path: {' → '.join(actual.path)})")
    for step in expect.never_visits:
        if step in actual.path:
            out.append(f"visited step '{step}', which it should not (path: {' → '.join(actual.path)})")
    if expect.status is not None and expect.status != actual.status:
        out.append(f"status: expected {expect.status}, the run is {actual.status}")
    if expect.outcome is not None and expect.outcome != actual.outcome:
        out.append(f"outcome: expected {expect.outcome}, the run ended {actual.outcome}")
    if expect.runs is not None and expect.runs != actual.runs:
        out.append(
            f"runs: expected {expect.runs} run(s) of the journey for the customer, there were {actual.runs}"
        )
    if expect.goal_reached is not None and expect.goal_reached != actual.goal_reached:
        reached = "reached" if expect.goal_reached else "not reached"
        out.append(f"goal: expected {reached}, it was{'' if actual.goal_reached else ' not'}")
    if expect.messages is not None:
        if not expect.messages and actual.messages:
            out.append(
                "expected no messages, found: "
                + "; ".join(f"{m.channel} from step {m.step}" for m in actual.messages)
            )
        for want in expect.messages:
            out += _message_problems(want, actual)
    if expect.notifications is not None:
        for want_alert in expect.notifications:
            if not any(
                _alert_matches(want_alert.target, want_alert.contains, *n) for n in actual.notifications
            ):
                seen = "; ".join(f"{t}: {text[:60]}" for t, text in actual.notifications) or "none"
                about = f" containing {want_alert.contains!r}" if want_alert.contains else ""
                out.append(f"expected an alert to {want_alert.target}{about}, found: {seen}")
        if not expect.notifications and actual.notifications:
            out.append("expected no alerts, found: " + "; ".join(t for t, _ in actual.notifications))
    if expect.sent_once:
        same: dict[tuple[str, str], list[SentMessage]] = {}
        for m in actual.messages:
            same.setdefault((m.channel, m.body), []).append(m)
        for (channel, _), copies in same.items():
            if len(copies) > 1:
                steps = ", ".join(c.step for c in copies)
                out.append(
                    f"the same {channel} went out {len(copies)} times (steps {steps}): '{copies[0].subject}'"
                )
    if expect.profile is not None:
        out += _profile_problems(expect.profile, actual.profile)
    for want in expect.reviews or []:
        result = actual.reviews.get(want.step)
        if result is None:
            out.append(f"no review at step '{want.step}' (path: {' → '.join(actual.path)})")
            continue
        for name in ("group", "escalated", "decision"):
            expected, got = getattr(want, name), result.get(name)
            if expected is not None and expected != got:
                out.append(f"review '{want.step}': {name} expected {expected}, was {got}")
        deadline = actual.review_deadlines.get(want.step)
        if want.deadline_after_trigger is not None and deadline is not None:
            after = deadline - actual.began
            if abs(after - want.deadline_after_trigger) > timedelta(minutes=1):
                out.append(
                    f"review '{want.step}': deadline {format_duration(after)} after the trigger, "
                    f"expected {format_duration(want.deadline_after_trigger)}"
                )
    return out
