"""The review console: server-rendered pages where reviewers sign in, see their queue and decide.

Thin routes over `JourneyService.review` (which checks the account's groups and the guardrails)
and `load_review_context`; no JavaScript. A session is a row in the store named by a random token
in a signed cookie (SameSite=strict, Secure over HTTPS), so signing out ends it for good; failed
sign-ins are throttled; every form carries a per-session CSRF token.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from journeys_app.core.settings import Settings
from journeys_app.edges.console.throttle import SignInThrottle
from journeys_app.service.experiments import chance
from journeys_app.service.funnel_chart import chart
from journeys_app.service.journey_service import JourneyService, ReviewClosed, ReviewNotFound, ReviewRefused
from journeys_app.service.report import WindowError, journey_report, parse_moment
from journeys_app.service.review_context import load_review_context, time_left, urgency
from journeys_app.store import queries
from journeys_app.store.console_sessions import close_session, open_session, session_reviewer
from journeys_app.store.report_queries import journey_totals
from journeys_app.store.reviewers import ReviewerAccount, authenticate, get_reviewer
from journeys_app.store.schema import utcnow
from workflows.review import ReviewDecision

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
TEMPLATES.env.filters["chance"] = chance
QUEUE_PAGE = 25  # reviews per queue page
DEFAULT_SINCE = "30d"  # the journey pages' window
PageNumber = Annotated[int, Query(alias="page", ge=1, le=100_000)]
ACTIONS = ("approve", "edit", "reject", "regenerate")
SESSION_COOKIE = "journeys_review"


class SecureCookies:
    """Marks the session cookie Secure when the console is reached over HTTPS (directly, or via a
    proxy on this host that says so in X-Forwarded-Proto), or always when told to."""

    def __init__(self, app: ASGIApp, always: bool = False) -> None:
        self.app, self.always = app, always

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not (self.always or scope.get("scheme") == "https"):
            await self.app(scope, receive, send)
            return

        async def secure(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    (k, v + b"; Secure" if k.lower() == b"set-cookie" and b"secure" not in v.lower() else v)
                    for k, v in message.get("headers", [])
                ]
            await send(message)

        await self.app(scope, receive, secure)


def create_console_app(service: JourneyService, settings: Settings) -> FastAPI:
    app = FastAPI(title="ma-journeys review console", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.console_secret or secrets.token_urlsafe(32),
        session_cookie=SESSION_COOKIE,
        max_age=int(settings.console_session_hours * 3600),
        same_site="strict",
    )
    app.add_middleware(SecureCookies, always=settings.console_secure_cookies)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    throttle = SignInThrottle()
    lasts = timedelta(hours=settings.console_session_hours)

    async def signed_in(request: Request) -> ReviewerAccount | None:
        token = request.session.get("sid")
        name = await session_reviewer(service.sessionmaker, token) if token else None
        account = await get_reviewer(service.sessionmaker, name) if name else None
        if token and account is None:  # signed out elsewhere, expired, or the account was removed
            request.session.clear()
        return account

    def csrf_token(request: Request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = request.session["csrf"] = secrets.token_urlsafe(24)
        return token

    def check_csrf(request: Request, token: str) -> None:
        if not secrets.compare_digest(token, request.session.get("csrf", "")):
            raise HTTPException(403, "the form expired; reload the page and try again")

    def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return TEMPLATES.TemplateResponse(
            request, name, {"csrf": csrf_token(request), **context}, status_code=status_code
        )

    @app.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request) -> Response:
        return page(request, "login.html", error=None)

    @app.post("/login", response_class=HTMLResponse)
    async def login(
        request: Request,
        name: Annotated[str, Form()],
        password: Annotated[str, Form()],
        csrf: Annotated[str, Form()],
    ) -> Response:
        check_csrf(request, csrf)
        keys = (f"name:{name.strip().lower()}", f"address:{request.client.host if request.client else '?'}")
        wait = throttle.wait(*keys)
        if wait > 0:
            response = page(
                request,
                "login.html",
                status_code=429,
                error=f"Too many failed sign-ins. Try again in {int(wait) + 1} seconds.",
            )
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        account = await authenticate(service.sessionmaker, name, password)
        if account is None:
            throttle.failed(*keys)
            return page(request, "login.html", status_code=401, error="Unknown name or wrong password.")
        throttle.succeeded(keys[0])
        request.session.clear()  # a fresh session: nothing carried over from before sign-in
        request.session["sid"] = await open_session(service.sessionmaker, account.name, lasts)
        return RedirectResponse("/", status_code=303)

    @app.post("/logout")
    async def logout(request: Request, csrf: Annotated[str, Form()]) -> Response:
        check_csrf(request, csrf)
        if token := request.session.get("sid"):
            await close_session(service.sessionmaker, token)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/", response_class=HTMLResponse)
    async def queue(request: Request, group: str | None = None, page_number: PageNumber = 1) -> Response:
        account = await signed_in(request)
        if account is None:
            return RedirectResponse("/login", status_code=303)
        if not account.groups and account.reads_reports:
            return RedirectResponse("/journeys", status_code=303)
        one = group if group in account.groups else None  # a group of theirs, else all of them
        total = await queries.count_pending_reviews(service.sessionmaker, one, within=account.groups)
        pages = max(1, -(-total // QUEUE_PAGE))
        number = min(page_number, pages)
        reviews = await queries.pending_reviews(
            service.sessionmaker,
            one,
            within=account.groups,
            limit=QUEUE_PAGE,
            offset=(number - 1) * QUEUE_PAGE,
        )
        rows = [
            {"review": r, "time_left": time_left(r.deadline), "due": urgency(r.deadline)} for r in reviews
        ]
        return page(
            request,
            "queue.html",
            account=account,
            rows=rows,
            group=one,
            total=total,
            page_number=number,
            pages=pages,
            section="queue",
        )

    def report_reader(account: ReviewerAccount | None, request: Request) -> Response | None:
        """The page to answer instead, when this account may not read reports."""
        if account is None:
            return RedirectResponse("/login", status_code=303)
        if not account.reads_reports:
            return page(
                request,
                "error.html",
                status_code=403,
                account=account,
                error="Journey reports need the reports role; an administrator adds it with "
                "`journeys reviewers add NAME --role reports`.",
            )
        return None

    def window_of(since: str) -> tuple[str, datetime | None, str | None]:
        """The window asked for, or the default with why the one asked for was not taken."""
        try:
            return since, parse_moment(since, utcnow()), None
        except WindowError as exc:
            return DEFAULT_SINCE, parse_moment(DEFAULT_SINCE, utcnow()), f"{exc}. Showing the last 30 days."

    @app.get("/journeys", response_class=HTMLResponse)
    async def journeys(request: Request, since: str = DEFAULT_SINCE) -> Response:
        account = await signed_in(request)
        if (refused := report_reader(account, request)) is not None:
            return refused
        since, start, error = window_of(since)
        totals = await journey_totals(service.sessionmaker, start, None)
        rows = [
            {"journey": loaded.spec, "totals": totals.get(journey_id, (0, 0, 0))}
            for journey_id, loaded in sorted(service.catalog.items())
        ]
        return page(
            request, "journeys.html", account=account, rows=rows, since=since, error=error, section="journeys"
        )

    @app.get("/journeys/{journey_id}", response_class=HTMLResponse)
    async def journey_page(request: Request, journey_id: str, since: str = DEFAULT_SINCE) -> Response:
        account = await signed_in(request)
        if (refused := report_reader(account, request)) is not None:
            return refused
        loaded = service.catalog.get(journey_id)
        if loaded is None:
            return page(
                request, "error.html", status_code=404, account=account, error=f"No journey {journey_id}."
            )
        since, start, error = window_of(since)
        report = await journey_report(service.sessionmaker, journey_id, loaded.spec, since=start)
        svg = (await asyncio.to_thread(chart, report, "svg")).decode()
        return page(
            request,
            "journey.html",
            account=account,
            report=report,
            chart=Markup(svg[svg.index("<svg") :]),  # matplotlib's own SVG: the text in it is escaped
            since=since,
            error=error,
            section="journeys",
        )

    @app.get("/reviews/{review_id}", response_class=HTMLResponse)
    async def detail(request: Request, review_id: str, done: str | None = None) -> Response:
        account = await signed_in(request)
        if account is None:
            return RedirectResponse("/login", status_code=303)
        return await _detail(request, account, review_id, notice=_notice(done))

    async def _detail(
        request: Request,
        account: ReviewerAccount,
        review_id: str,
        *,
        notice: str | None = None,
        error: str | None = None,
        status_code: int = 200,
    ) -> Response:
        try:
            context = await load_review_context(service, review_id)
        except ReviewNotFound:
            return page(
                request, "error.html", status_code=404, account=account, error=f"No review {review_id}."
            )
        if context.review.group not in account.groups:
            return page(
                request,
                "error.html",
                status_code=403,
                account=account,
                error=f"This review belongs to group {context.review.group}; you review for "
                f"{', '.join(account.groups)}.",
            )
        return page(
            request,
            "detail.html",
            status_code=status_code,
            account=account,
            c=context,
            notice=notice,
            error=error,
        )

    @app.post("/reviews/{review_id}/decision", response_class=HTMLResponse)
    async def decide(
        request: Request,
        review_id: str,
        action: Annotated[str, Form()],
        csrf: Annotated[str, Form()],
        variant: Annotated[int, Form()] = 0,
        body: Annotated[str | None, Form()] = None,
        subject: Annotated[str | None, Form()] = None,
        reason: Annotated[str | None, Form()] = None,
    ) -> Response:
        check_csrf(request, csrf)
        account = await signed_in(request)
        if account is None:
            return RedirectResponse("/login", status_code=303)
        if action not in ACTIONS:
            return await _detail(
                request, account, review_id, error=f"Unknown action {action!r}.", status_code=400
            )
        try:
            decision = ReviewDecision(
                review_id=review_id,
                decision=action,  # type: ignore[arg-type]
                reviewer=account.name,
                variant=variant,
                body=body if action == "edit" else None,
                subject=(subject or None) if action == "edit" else None,
                reason=reason or None,
            )
            await service.review(decision)
            await service.wait_until_recorded(review_id)  # so the page shows the decision, not "pending"
        except ReviewNotFound as exc:
            return await _detail(request, account, review_id, error=str(exc), status_code=404)
        except ReviewRefused as exc:
            return await _detail(request, account, review_id, error=str(exc), status_code=403)
        except ReviewClosed as exc:
            return await _detail(request, account, review_id, error=str(exc), status_code=409)
        except WorkflowUpdateFailedError as exc:  # stale, duplicate, invalid: the run refused it
            message = str(exc.cause).removeprefix("ValueError: ") if exc.cause else str(exc)
            return await _detail(request, account, review_id, error=message, status_code=409)
        except RPCError as exc:  # e.g. the run has ended
            return await _detail(request, account, review_id, error=exc.message, status_code=409)
        except ValueError as exc:  # the form did not make a valid decision (e.g. text too long)
            return await _detail(request, account, review_id, error=str(exc), status_code=400)
        return RedirectResponse(f"/reviews/{review_id}?done={action}", status_code=303)

    return app


def _notice(done: str | None) -> str | None:
    return {
        "approve": "Approved. The journey sends the chosen variant.",
        "edit": "Your text was accepted. The journey sends it.",
        "reject": "Rejected. The journey takes its rejection path.",
        "regenerate": "Sent back to the model with your note; new drafts open as a new review.",
    }.get(done or "")
