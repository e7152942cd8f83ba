"""Debian's Chromium for the browser tests: where it is and how it is started headless here."""

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Headless as root in a sandbox with no network: without the background-networking flags
# Chromium keeps trying to reach Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 10_000


def require_chromium() -> Path:
    """The browser's path; the calling test is skipped where Debian's chromium is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium package to run this")
    return CHROMIUM
