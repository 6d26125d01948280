"""Security headers on every answer, and the sign-in page's `next` kept to this site: in the
API and in Chromium (the console works under its content security policy, cannot be framed, and
never sends a person to another site after signing in)."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, ConsoleMessage, expect

from callcenter.console.endpoints import safe_next
from kernel.settings import Settings
from tests.callcenter.accounts.test_sign_in import staffed_app
from tests.callcenter.console.conftest import Street
from tests.factories import TEST_PASSWORD, sign_in

OFF_SITE = [
    "//evil.example/", "/\\evil.example/", "/%5Cevil.example/", "/%5cevil.example",
    "/%2F%2Fevil.example", "https://evil.example/", "javascript:alert(1)", "/\t/evil.example",
    "/%09/evil.example", "/\n/evil.example", "\\/evil.example", "evil.example", " //evil.example",
    "/console\x00", "",
]  # fmt: skip


@pytest.mark.parametrize("target", OFF_SITE)
def test_next_is_refused_unless_a_path_on_this_site(target: str) -> None:
    assert safe_next(target) is None


@pytest.mark.parametrize("target", ["/console", "/console/elders/7?tab=devices", "/worker"])
def test_next_is_kept_when_a_path_on_this_site(target: str) -> None:
    assert safe_next(target) == target


def _boot(page: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="boot">(.*?)</script>', page, re.S)
    assert found is not None
    boot: dict[str, object] = json.loads(found.group(1))
    return boot


def test_every_answer_carries_the_security_headers(settings: Settings) -> None:
    with TestClient(staffed_app(settings)) as client:
        anonymous = {
            "page": client.get("/sign-in"),
            "redirect": client.get("/console", follow_redirects=False),
            "api 401": client.get("/api/auth/me"),
            "api 422": client.post("/api/auth/sign-in", json={}),
            "health": client.get("/healthz"),
            "not found": client.get("/no-such-page"),
        }
        sign_in(client, "admin")
        signed_in = {
            "queue": client.get("/console"),
            "api": client.get("/api/centres"),
            "accounts": client.get("/api/auth/accounts"),
        }
        static = client.get("/console/static/app.js")
        docs = client.get("/docs")
    for name, answer in {**anonymous, **signed_in, "static": static, "docs": docs}.items():
        headers = answer.headers
        policy = headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in policy, name
        assert headers.get("x-frame-options") == "DENY", name
        assert headers.get("x-content-type-options") == "nosniff", name
        assert headers.get("referrer-policy") == "no-referrer", name
        if name != "static":
            assert headers.get("cache-control") == "no-store", name
    console_policy = signed_in["queue"].headers["content-security-policy"]
    assert "script-src 'self';" in console_policy and "unsafe" not in console_policy


def test_the_sign_in_page_passes_on_only_a_path_on_this_site(settings: Settings) -> None:
    with TestClient(staffed_app(settings)) as client:
        page = client.get("/sign-in", params={"next": "/\\evil.example/"})
        assert _boot(page.text)["page"] == {"next": None}
        page = client.get("/sign-in", params={"next": "/console/elders"})
        assert _boot(page.text)["page"] == {"next": "/console/elders"}
        sign_in(client, "op1")
        onwards = client.get("/sign-in?next=/%5Cevil.example/", follow_redirects=False)
        assert onwards.headers["location"] == "/console"
        onwards = client.get("/sign-in?next=/console/map", follow_redirects=False)
        assert onwards.headers["location"] == "/console/map"


def _sign_in_at(browser: Browser, street: Street, query: str) -> tuple[str, list[str]]:
    """Sign op1 in through /sign-in?…; where the browser ends up, and any policy violations."""
    context = browser.new_context()
    page = context.new_page()
    violations: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    page.on("console", watch)
    page.goto(f"{street.base}/sign-in{query}")
    page.fill("#username", "op1")
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=who]")
    url = page.url
    if url.endswith("/console"):  # the live feed's WebSocket is allowed too
        expect(page.locator("#feed-state")).to_have_attribute("data-state", "live")
    context.close()
    return url, violations


def test_in_chromium_signing_in_never_leads_off_site_and_the_policy_breaks_nothing(
    browser: Browser, street: Street
) -> None:
    for query in ("?next=/%5Cevil.example/", "?next=//evil.example/", "?next=/%09/evil.example"):
        url, violations = _sign_in_at(browser, street, query)
        assert url == street.base + "/console"
        assert violations == []
    url, violations = _sign_in_at(browser, street, "?next=/console/elders")
    assert url == street.base + "/console/elders"
    assert violations == []


def test_in_chromium_another_site_cannot_frame_the_console(
    browser: Browser, street: Street
) -> None:
    page = browser.new_page()
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text))
    page.set_content(f'<iframe id="framed" src="{street.base}/sign-in"></iframe>')
    page.wait_for_timeout(1_000)
    frame = page.frame_locator("#framed")
    expect(frame.locator("#sign-in-form")).to_have_count(0)
    assert any("frame-ancestors" in text or "X-Frame-Options" in text for text in blocked)
    page.close()
