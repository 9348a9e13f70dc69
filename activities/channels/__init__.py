"""Channel providers: how a message leaves (SMTP for email, signed HTTP for SMS, push, webhook)."""

from __future__ import annotations


class NotSent(RuntimeError):
    """The message certainly did not leave (unreachable, or a temporary refusal): retry."""


class Refused(RuntimeError):
    """The provider refused the message for good: retrying would not help."""
