"""Headless Debian Chromium driven by Playwright, kept off the network: every request is answered
from this folder (the test page, the stub Messenger) or the repository (intercom.js), or aborted."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, Route, sync_playwright

HERE = Path(__file__).resolve().parent
SCRIPT = HERE.parents[1] / "functions" / "ingest" / "web" / "intercom.js"
ANALYTICS_NEXT = HERE / "node_modules" / "@segment" / "analytics-next" / "dist" / "umd"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SITE = "http://site.test"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
_TYPES = {".html": "text/html", ".js": "application/javascript"}


class Site:
    """What the page asked for, and the calls the stub Messenger recorded."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.widget_requests: list[str] = []
        self.blocked: list[str] = []
        self.warnings: list[str] = []
        page.on("console", lambda message: self.warnings.append(message.text) if message.type == "warning" else None)

    def route(self, route: Route) -> None:
        url = route.request.url
        if url.startswith("https://widget.intercom.io/widget/"):
            self.widget_requests.append(url)
            route.fulfill(status=200, content_type="application/javascript", body=(HERE / "widget_stub.js").read_text())
        elif url.startswith(SITE + "/analytics-next/"):
            self._file(route, ANALYTICS_NEXT / url.removeprefix(SITE + "/analytics-next/"))
        elif url == SITE + "/intercom.js":
            self._file(route, SCRIPT)
        elif url.startswith(SITE + "/"):
            self._file(route, HERE / url.removeprefix(SITE + "/").split("?")[0])
        else:
            self.blocked.append(url)
            route.abort()

    def _file(self, route: Route, path: Path) -> None:
        if not path.is_file():
            route.fulfill(status=404, body="not found")
            return
        route.fulfill(status=200, content_type=_TYPES.get(path.suffix, "text/plain"), body=path.read_bytes())

    def calls(self, wait_for: int = 0) -> list[list[Any]]:
        """The Intercom(...) calls so far, once the stub has loaded (and at least `wait_for` are in)."""
        self.page.wait_for_function(f"window.__intercomLoaded && window.__intercomCalls.length >= {wait_for}")
        calls: list[list[Any]] = self.page.evaluate("JSON.parse(JSON.stringify(window.__intercomCalls))")
        return calls

    def run(self, script: str) -> Any:
        return self.page.evaluate(script)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    yield launched
    launched.close()


@pytest.fixture
def site(browser: Browser) -> Iterator[Site]:
    page = browser.new_page(viewport={"width": 900, "height": 560})
    served = Site(page)
    page.route("**/*", served.route)
    page.goto(SITE + "/page.html")
    yield served
    page.close()
