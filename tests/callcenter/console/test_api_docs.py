"""/docs is Swagger UI from the project's own files: in Chromium it lists the API with nothing
asked of another site and nothing refused by the content security policy; /favicon.ico is there."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Browser, ConsoleMessage, Request, expect

from tests.callcenter.console.conftest import Street


def test_the_api_docs_work_offline_under_the_security_policy(
    browser: Browser, street: Street
) -> None:
    context = browser.new_context()
    elsewhere: list[str] = []
    refused: list[str] = []

    def watch(request: Request) -> None:
        if urlsplit(request.url).netloc != urlsplit(street.base).netloc:
            elsewhere.append(request.url)

    # Any other site is unreachable, as on a call centre's network cut off from the internet.
    context.route(
        lambda url: urlsplit(url).netloc != urlsplit(street.base).netloc,
        lambda route: route.abort(),
    )
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.on("request", watch)

    def policy(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused" in message.text:
            refused.append(message.text)

    page.on("console", policy)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(street.base + "/docs")
    operations = page.locator(".opblock-summary-path")
    expect(operations.first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/incidents").first).to_be_visible()
    assert operations.count() > 20
    page.locator(".opblock-summary", has_text="/healthz").first.click()  # an operation opens
    expect(page.locator(".opblock-body").first).to_be_visible()
    assert elsewhere == []
    assert page.evaluate("window.violations") == []
    assert refused == []
    assert errors == []
    context.close()


def test_the_site_has_an_icon(browser: Browser, street: Street) -> None:
    page = browser.new_page()
    answer = page.request.get(street.base + "/favicon.ico")
    assert answer.status == 200
    assert answer.headers["content-type"] == "image/x-icon"
    assert answer.body()[:4] == b"\x00\x00\x01\x00"  # an ICO file
    page.goto(street.base + "/sign-in")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert icon is not None
    assert page.request.get(street.base + icon).status == 200
    page.close()


# What the content security policy refused on the page, as the browser reports it.
RECORD_VIOLATIONS = """
window.violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""
