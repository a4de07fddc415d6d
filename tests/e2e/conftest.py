"""Shared set-up of the browser tests: Debian's Chromium driven by Playwright against live_server."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs an event loop in this thread

if not settings.MEDIA_URL:
    # Uploads are private (MEDIA_URL is None, files go only through authorised views); Django's
    # live-server media handler cannot parse None, so give it a prefix that never matches.
    from django.test import testcases

    testcases._MediaFilesHandler.get_base_url = lambda self: "/__no-public-media__/"

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
SHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"


@contextmanager
def open_page(*, extra_args: tuple[str, ...] = (), **context_options):
    """Yield ``(page, errors, external)``: console/page errors and requests that left the site."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, *extra_args])
        context = browser.new_context(**{"viewport": {"width": 1360, "height": 1000}, **context_options})
        page = context.new_page()
        errors: list[str] = []
        external: list[str] = []
        page.on("console", lambda msg: errors.append(f"{msg.type}: {msg.text}") if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
        page.on(
            "request",
            lambda req: external.append(req.url)
            if not req.url.startswith(("http://localhost", "http://127.0.0.1", "data:", "blob:"))
            else None,
        )
        try:
            yield page, errors, external
        finally:
            context.close()
            browser.close()
