"""Headless Debian Chromium as the browser tests and the widget benchmark launch it (with Playwright)."""

from __future__ import annotations

#: Debian's chromium package (``apt-get install chromium``).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: A normal desktop Chrome. Chromium's own headless User-Agent says "HeadlessChrome", which the plugin
#: rightly treats as a bot: no click counted, no attribution cookie.
DESKTOP_CHROME_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
)
