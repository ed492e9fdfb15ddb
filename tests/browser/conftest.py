"""Playwright against Debian's chromium and pytest-django's live server.

Locally a missing chromium skips these tests; in CI (CI set) it fails loudly.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

# Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the test
# itself (fixtures, assertions) are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


# Assertions wait as long as actions do (the page's own timeout below): on a busy machine a
# page can take seconds to show what the server already answered.
BROWSER_TIMEOUT_MS = 15_000
expect.set_options(timeout=BROWSER_TIMEOUT_MS)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser() -> Iterator:
    executable = _chromium()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail(
                "chromium is not installed; CI must run the browser tests (apt-get install chromium)"
            )
        pytest.skip(
            "chromium is not installed (apt-get install chromium); CI runs these tests"
        )
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an asyncio loop in this thread, after which asgiref (Django's
    # connection store) keeps this thread's database connections in context variables rather
    # than thread-locals. Carry the connections made so far across, so that the one holding the
    # serialized test database (serialized_rollback) is still the one tests use.
    opened = {conn.alias: conn for conn in connections.all(initialized_only=True)}
    with sync_playwright() as playwright:
        for alias, conn in opened.items():
            connections[alias] = conn
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server) -> Iterator:
    """A fresh browser context (cookies, storage) per test, with JavaScript on."""
    context = browser.new_context(
        base_url=live_server.url,
        accept_downloads=True,
        viewport={"width": 1280, "height": 860},
    )
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def page_without_js(browser, live_server) -> Iterator:
    context = browser.new_context(
        base_url=live_server.url,
        java_script_enabled=False,
        viewport={"width": 1280, "height": 860},
    )
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot(request):
    """screenshot(page, "step-name") saves test-artifacts/screenshots/<test>/<nn>-<step>.png (git-ignored)."""
    folder = ARTIFACTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    counter = {"n": 0}

    def take(page, name: str) -> Path:
        counter["n"] += 1
        path = folder / f"{counter['n']:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def sign_in(page, email: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
