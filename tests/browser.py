"""Open a local HTML file in headless Chromium (Debian's, driven by Playwright) and watch it.

``opened(path, width=...)`` yields a ``Visit``: the page, the console errors/warnings and page
errors seen, and every URL the page requested. Assert on ``visit.console`` and
``visit.leaving()`` after the block (the browser is closed by then).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from attrs import define, field
from playwright.sync_api import ConsoleMessage, Page, Request, sync_playwright

#: Debian's chromium (the noxfile installs it); Playwright never downloads a browser here.
CHROMIUM = "/usr/bin/chromium"


@define
class Visit:
    page: Page
    console: list[str] = field(factory=list)
    requests: list[str] = field(factory=list)

    def leaving(self) -> list[str]:
        """The requested URLs that left the file (anything but file:// and data:)."""
        return [u for u in self.requests if not u.startswith(("file://", "data:"))]


@contextmanager
def opened(path: Path, *, width: int, height: int = 800) -> Iterator[Visit]:
    """*path* loaded in headless Chromium, console and requests recorded from before the load."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            visit = Visit(browser.new_page(viewport={"width": width, "height": height}))

            def on_console(msg: ConsoleMessage) -> None:
                if msg.type in {"error", "warning"}:
                    visit.console.append(f"{msg.type}: {msg.text}")

            def on_request(request: Request) -> None:
                visit.requests.append(request.url)

            visit.page.on("console", on_console)
            visit.page.on("pageerror", lambda exc: visit.console.append(f"pageerror: {exc}"))
            visit.page.on("request", on_request)
            visit.page.goto(path.as_uri())
            yield visit
        finally:
            browser.close()
