"""Refresh the README's screenshot of the call page.

    python tools/screenshot_call_page.py --db demo.db --call 2026-11-25_ben_0004 \\
        --out docs/call-page.png

The given database is never modified: the script copies it to a temporary folder, adds a
temporary manager to the copy, serves the copy on a free localhost port, signs in with Playwright
driving Debian's Chromium (/usr/bin/chromium; no browser is downloaded), opens the call page,
clicks one piece of evidence (its turn is highlighted and the player moves there) and saves a PNG.
"""

from __future__ import annotations

import argparse
import secrets
import socket
import sqlite3
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import quote

import uvicorn

from analyzer.review.users import add_user
from analyzer.store import Store
from analyzer.web import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 15_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="the database to show (read only)")
    parser.add_argument("--call", required=True, help="the call id to open")
    parser.add_argument("--out", type=Path, default=Path("docs/call-page.png"), help="the PNG")
    parser.add_argument("--as", dest="name", default="maria", help="the manager's name shown")
    parser.add_argument(
        "--evidence",
        type=int,
        default=None,
        help="which evidence button to click, counting from 0 "
        "(default: the first one at least 10 s into the call)",
    )
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument(
        "--full-page", action="store_true", help="the whole page, not only the viewport"
    )
    parser.add_argument("--chromium", type=Path, default=CHROMIUM)
    args = parser.parse_args(argv)

    if not args.db.is_file():
        parser.error(f"no database at {args.db}")
    if not args.chromium.exists():
        parser.error(f"no Chromium at {args.chromium} (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="call-page-") as tmp:
        copy = copy_database(args.db, Path(tmp) / "review.db")
        password = secrets.token_urlsafe(18)
        with Store.open(copy) as store:
            add_user(store, args.name, "manager", password)
        with serving(copy) as url:
            shot(args, url, password)
    print(f"saved {args.out}")
    return 0


def copy_database(source: Path, target: Path) -> Path:
    """A consistent copy of `source` (WAL included), with its recordings' paths made absolute
    so that the copy, in another folder, still serves them. `source` is only read."""
    source_uri = f"{source.resolve().as_uri()}?mode=ro"
    with (
        closing(sqlite3.connect(source_uri, uri=True)) as src,
        closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)
    with closing(sqlite3.connect(target)) as conn, conn:
        rows = conn.execute("SELECT call_id, audio_path FROM calls WHERE audio_path IS NOT NULL")
        for call_id, stored in rows.fetchall():
            path = Path(stored)
            if path.is_absolute():
                continue
            # Where the app looks for a relative recording: the database's folder, then here.
            for candidate in (source.resolve().parent / path, Path.cwd() / path):
                if candidate.is_file():
                    conn.execute(
                        "UPDATE calls SET audio_path = ? WHERE call_id = ?",
                        (str(candidate.resolve()), call_id),
                    )
                    break
    return target


@contextmanager
def serving(db: Path) -> Iterator[str]:
    """The app over `db`, served by uvicorn in a thread on a free localhost port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(create_app(db), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while True:
            if not thread.is_alive():
                raise SystemExit("the server stopped before it answered (see above)")
            try:
                with urllib.request.urlopen(url + "/login", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"the server never answered on {url}") from None
                time.sleep(0.1)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def shot(args: argparse.Namespace, url: str, password: str) -> None:
    from playwright.sync_api import sync_playwright

    call_path = f"/calls/{quote(args.call, safe='')}"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(args.chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"{url}/login?next={quote(call_path)}")
            page.fill("input[name=name]", args.name)
            page.fill("input[name=password]", password)
            with page.expect_navigation():
                page.click("button[type=submit]")
            if page.url != url + call_path:
                heading = page.locator("h1").first.inner_text()
                raise SystemExit(f"could not open {call_path}: {heading} ({page.url})")
            click_evidence(page, args.evidence)
            if args.full_page:
                # A viewport as tall as the page: sticky parts (the player, the confirm bar)
                # then sit where they belong instead of where the scroll left them.
                height = page.evaluate("document.documentElement.scrollHeight")
                page.set_viewport_size({"width": args.width, "height": height})
            # The top of the page (the call's facts), unless that hides the highlighted turn.
            page.evaluate(
                "() => { window.scrollTo(0, 0); const turn = document.querySelector"
                "('.turn.highlight'); if (turn && turn.getBoundingClientRect().bottom >"
                " innerHeight) turn.scrollIntoView({block: 'center'}); }"
            )
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=args.full_page)
        finally:
            browser.close()


def click_evidence(page, which: int | None) -> None:
    """Click one evidence button; wait for the highlight and the player, then pause it there."""
    buttons = page.locator("button.evidence")
    starts = buttons.evaluate_all(
        "bs => bs.map(b => b.dataset.start === undefined ? null : parseFloat(b.dataset.start))"
    )
    if not starts:
        print("no evidence on this page: nothing clicked", file=sys.stderr)
        return
    if which is None:  # a moment well into the call, so that the player visibly moves
        later = [n for n, start in enumerate(starts) if start is not None and start >= 10]
        which = later[0] if later else 0
    if not 0 <= which < len(starts):
        raise SystemExit(f"--evidence {which}: the page has {len(starts)} evidence buttons")
    button = buttons.nth(which)
    turn = button.get_attribute("data-turn")
    button.scroll_into_view_if_needed()
    button.click()
    page.locator(f"#turn-{turn}.highlight").wait_for()
    start = starts[which]
    if start is not None and page.locator("audio#player").count():
        try:
            page.wait_for_function(
                "s => Math.abs(document.getElementById('player').currentTime - s) < 0.5",
                arg=start,
                timeout=5_000,
            )
        except Exception:
            state = page.evaluate(
                "() => { const a = document.getElementById('player');"
                " return {currentTime: a.currentTime, readyState: a.readyState,"
                " error: a.error && a.error.message}; }"
            )
            print(f"warning: the player did not move to {start} s: {state}", file=sys.stderr)
        page.evaluate("() => document.getElementById('player').pause()")
    page.mouse.move(0, 0)  # no hover colour on the clicked button
    time.sleep(0.8)  # the smooth scroll to the highlighted turn


if __name__ == "__main__":
    sys.exit(main())
