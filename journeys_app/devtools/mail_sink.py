"""A local SMTP server that keeps every email as a file: where the demo's emails really go."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class _Maildir:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.count += 1
        to = "_".join(envelope.rcpt_tos).replace("@", "_at_").replace("/", "_")[:80]
        path = self.folder / f"{self.count:04d}-{to}.eml"
        path.write_bytes(envelope.original_content or b"")
        return f"250 OK stored as {path.name}"


@contextmanager
def local_mail_sink(folder: Path) -> Iterator[int]:
    """Run the sink on a free loopback port until the block ends; yields the port."""
    folder.mkdir(parents=True, exist_ok=True)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every connection at INFO
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    controller = Controller(_Maildir(folder), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
