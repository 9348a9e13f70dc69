"""The page behind an email's unsubscribe link, and RFC 8058 one-click unsubscribe."""

from __future__ import annotations

import html

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from journeys_app.core.unsubscribe import BadLink, read_token
from journeys_app.service.journey_service import JourneyService


def unsubscribe_routes(service: JourneyService) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/u/{token}", response_class=HTMLResponse)
    async def unsubscribe_page(token: str) -> HTMLResponse:
        """One button, so link scanners that follow every link unsubscribe no one."""
        try:
            read_token(service.settings, token)
        except BadLink as exc:
            return HTMLResponse(_page(str(exc)), status_code=400)
        form = f'<form method="post" action="/u/{token}"><button type="submit">Unsubscribe</button></form>'
        return HTMLResponse(_page("Stop marketing emails from us?", form))

    @router.post("/u/{token}", response_class=HTMLResponse)
    async def unsubscribe_now(token: str) -> HTMLResponse:
        """The button, and one-click unsubscribe from mail clients (same effect, idempotent)."""
        try:
            _, channel, _ = await service.unsubscribe(token)
        except BadLink as exc:
            return HTMLResponse(_page(str(exc)), status_code=400)
        return HTMLResponse(
            _page(f"You are unsubscribed from marketing by {channel}. We are sorry to see you go.")
        )

    return router


def _page(message: str, form: str = "") -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Unsubscribe</title></head>'
        '<body style="font: 16px system-ui; max-width: 32rem; margin: 3rem auto">'
        f"<p>{html.escape(message)}</p>{form}</body></html>"
    )
