"""What the browser tests share: Debian's Chromium driven by Playwright, the ``browser`` and
``page`` fixtures (bind them in a test module: ``page = browser_helpers.page``), signing in,
and checks that hold on every page.

The browser tests run on SQLite only (the HTTP-level UI tests cover both databases).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from db_fixtures import PASSWORD, Env
from expertloop.domain import User
from expertloop.web.examples import EXAMPLES

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# A test module's ``pytestmark``.
needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing: apt-get install chromium"
)
on_sqlite = pytest.mark.parametrize("env", ["sqlite"], indirect=True)

Page = Any
EXAMPLE = {e.task_type: e for e in EXAMPLES}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


@contextmanager
def phone(browser: Any) -> Iterator[Page]:
    """A page in a phone-sized browser context of its own, closed afterwards."""
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Page, env: Env, user: User, path: str = "/") -> None:
    page.goto(f"{env.url}/login?next={path}")
    page.fill("#username", user.username)
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{env.url}{path}")


def no_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def unnamed_controls(page: Page) -> list[str]:
    """The HTML of every control on the page that has no accessible name."""
    return list(
        page.evaluate(
            """() => Array.from(document.querySelectorAll(
                   'input:not([type=hidden]), textarea, button, select'))
                 .filter(el => !(el.labels && el.labels.length) &&
                               !el.getAttribute('aria-label') &&
                               !(el.textContent || '').trim())
                 .map(el => el.outerHTML)"""
        )
    )
