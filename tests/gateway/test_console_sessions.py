"""Console sessions: signing out ends a session for good, wrong passwords are throttled, and the
cookie is Secure over HTTPS.

Before, a cookie captured before sign-out still worked, sign-ins could be guessed without pause,
and the cookie lacked Secure behind an HTTPS proxy.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from journeys_app.edges.console.app import SESSION_COOKIE
from journeys_app.edges.console.throttle import FREE_FAILURES
from journeys_app.edges.http_server import serve_console
from journeys_app.store.reviewers import add_reviewer
from tests.gateway.conftest import Gateway

pytestmark = pytest.mark.slow


@pytest_asyncio.fixture
async def console(gw: Gateway) -> AsyncIterator[str]:
    async with serve_console(gw.service, gw.settings.model_copy(update={"console_port": 0})) as url:
        yield url


async def sign_in(web: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    form = await web.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    return await web.post("/login", data={"name": name, "password": password, "csrf": csrf.group(1)})


async def test_a_cookie_from_before_sign_out_no_longer_works(gw: Gateway, console: str) -> None:
    name = f"Rev {uuid.uuid4().hex[:4]}"
    password = await add_reviewer(gw.sessionmaker, name, ["vip-care"])
    async with httpx.AsyncClient(base_url=console) as web:
        assert (await sign_in(web, name, password)).status_code == 303
        captured = web.cookies[SESSION_COOKIE]
        assert (await web.get("/")).status_code == 200
        csrf = re.search(r'name="csrf" value="([^"]+)"', (await web.get("/")).text)
        assert csrf is not None
        assert (await web.post("/logout", data={"csrf": csrf.group(1)})).status_code == 303
    async with httpx.AsyncClient(base_url=console, cookies={SESSION_COOKIE: captured}) as thief:
        replayed = await thief.get("/")
    assert replayed.status_code == 303 and replayed.headers["location"] == "/login"


async def test_failed_sign_ins_are_throttled(gw: Gateway, console: str) -> None:
    name = f"Rev {uuid.uuid4().hex[:4]}"
    password = await add_reviewer(gw.sessionmaker, name, ["vip-care"])
    async with httpx.AsyncClient(base_url=console) as web:
        wrong = [(await sign_in(web, name, f"guess-{i}")).status_code for i in range(FREE_FAILURES)]
        assert wrong == [401] * FREE_FAILURES
        held = await sign_in(web, name, "guess-again")
        assert held.status_code == 429 and int(held.headers["Retry-After"]) >= 1
        assert "Too many failed sign-ins" in held.text
        right_but_held = await sign_in(web, name, password)
    assert right_but_held.status_code == 429  # the right password waits too: no oracle for guessers


async def test_the_cookie_is_secure_over_https(gw: Gateway, console: str) -> None:
    # A TLS proxy on this host says so in X-Forwarded-Proto.
    async with httpx.AsyncClient(base_url=console, headers={"X-Forwarded-Proto": "https"}) as web:
        over_https = await web.get("/login")
    async with httpx.AsyncClient(base_url=console) as plain:
        over_http = await plain.get("/login")
    assert over_https.headers["set-cookie"].lower().endswith("; secure")
    assert "secure" not in over_http.headers["set-cookie"].lower()  # plain http on loopback still works
