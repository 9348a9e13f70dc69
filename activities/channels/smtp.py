"""Email through SMTP (aiosmtplib), with the outbox row's key as the Message-ID.

Errors are sorted by what they mean for a retry: `NotSent` (the server refused or was never
reached, so a retry is safe), `Refused` (a permanent 5xx: do not retry), and anything else,
where the message may or may not have been accepted.
"""

from __future__ import annotations

import hashlib
import html
import re
from email import policy
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from activities.channels import NotSent, Refused
from journeys_app.core.settings import Settings

# SMTP line endings; long headers (the unsubscribe URL) stay one plain line, not encoded words.
_POLICY = policy.SMTP.clone(max_line_length=998)  # the RFC 5322 limit


def message_id(idempotency_key: str, settings: Settings) -> str:
    domain = settings.smtp_from.rpartition("@")[2].strip("> ") or "journeys.local"
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]}@{domain}>"


def build_email(
    settings: Settings,
    to: str,
    subject: str | None,
    body: str,
    idempotency_key: str,
    unsubscribe: str | None = None,
) -> EmailMessage:
    """The email; with an `unsubscribe` URL (marketing), a footer link and RFC 8058 one-click headers."""
    email = EmailMessage(policy=_POLICY)
    email["From"] = settings.smtp_from
    email["To"] = to
    email["Subject"] = subject or ""
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = message_id(idempotency_key, settings)
    if unsubscribe:
        email["List-Unsubscribe"] = f"<{unsubscribe}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        body = f"{body.rstrip()}\n\n--\nNo longer want these emails? Unsubscribe: {unsubscribe}\n"
    email.set_content(body)
    email.add_alternative(as_html(body), subtype="html")
    return email


_URL = re.compile(r"https?://[^\s<>\"']+")


def as_html(text: str) -> str:
    """The plain text as simple HTML: escaped, one <p> per paragraph, links clickable."""

    def paragraph(block: str) -> str:
        escaped = html.escape(block.strip())
        linked = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        return "<p>" + linked.replace("\n", "<br>\n") + "</p>"

    paragraphs = [paragraph(b) for b in re.split(r"\n\s*\n", text) if b.strip()]
    return (
        '<!doctype html><html><body style="font-family: sans-serif">\n'
        + "\n".join(paragraphs)
        + "\n</body></html>"
    )


async def send_email(settings: Settings, email: EmailMessage) -> str:
    """Hand the message to the SMTP server; returns its reply (e.g. `250 OK queued as 4f2a`)."""
    try:
        _, reply = await aiosmtplib.send(
            email,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username or None,
            password=settings.smtp_password or None,
            use_tls=settings.smtp_security == "tls",
            start_tls=settings.smtp_security == "starttls",
            timeout=settings.smtp_timeout_s,
        )
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError, OSError) as exc:
        raise NotSent(f"cannot reach {settings.smtp_host}:{settings.smtp_port}: {exc}") from exc
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        if all(code >= 500 for code in codes):
            raise Refused(f"recipient refused: {exc}") from exc
        raise NotSent(f"recipient deferred: {exc}") from exc
    except aiosmtplib.SMTPResponseException as exc:
        if exc.code >= 500:
            raise Refused(f"{exc.code} {exc.message}") from exc
        raise NotSent(f"{exc.code} {exc.message}") from exc
    return reply
