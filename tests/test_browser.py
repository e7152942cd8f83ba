"""End to end in a real browser: a manager signs in, listens to evidence, overrides, confirms.

Playwright drives Debian's Chromium (/usr/bin/chromium; Playwright never downloads a browser of
its own) against the real app, served by uvicorn on a free localhost port.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from analyzer.review.rules import recompute_grade
from analyzer.web import create_app
from analyzer.web.render import environment

from browser import CHROMIUM_ARGS, TIMEOUT_MS, require_chromium
from reviewing import PASSWORD, Seeded, seed_review_db


@dataclass
class LiveServer:
    url: str
    seeded: Seeded


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium; the test is skipped (before any server starts) where it is missing."""
    return require_chromium()


@pytest.fixture
def live_server(tmp_path: Path, mini_rubric) -> Iterator[LiveServer]:
    """The real app over the seeded review database, served by uvicorn in a thread."""
    seeded = seed_review_db(tmp_path / "review.db", mini_rubric)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # the socket is handed to uvicorn: no race for the port
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(seeded.db), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answering(url + "/login", server, thread)
        yield LiveServer(url=url, seeded=seeded)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
    assert not thread.is_alive(), "uvicorn did not stop within 10 s of should_exit"


def _wait_until_answering(url: str, server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + 15
    last: Exception | None = None
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise AssertionError("uvicorn stopped before it answered (see the log above)")
        if server.started:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError as exc:
                last = exc
        time.sleep(0.05)
    raise AssertionError(f"the app never answered {url} within 15 s: {last!r}")


@contextmanager
def _screenshot_on_failure(page, where: Path) -> Iterator[None]:
    try:
        yield
    except BaseException as exc:
        shot = where / "browser-failure.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
            note = f"screenshot of the page at {page.url}: {shot}"
        except Exception as shot_error:  # the page itself may be what broke
            note = f"no screenshot ({shot_error!r})"
        exc.add_note(note)
        raise


@contextmanager
def _browser_page(chromium: Path, where: Path) -> Iterator[tuple[Any, list[str]]]:
    """A page in headless Chromium and the list its script errors land in; a screenshot in
    `where` when the block fails."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)
            script_errors: list[str] = []
            page.on("pageerror", lambda error: script_errors.append(str(error)))
            with _screenshot_on_failure(page, where):
                yield page, script_errors
        finally:
            browser.close()


@pytest.mark.slow
def test_manager_listens_to_evidence_overrides_and_confirms(
    chromium: Path, live_server: LiveServer, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    base = live_server.url
    points = environment().filters["points"]  # the grade as every page prints it
    with _browser_page(chromium, tmp_path) as (page, script_errors):
        # Signing in: the queue sends an anonymous visitor to the login page and back.
        page.goto(base + "/calls")
        assert page.url == base + "/login?next=/calls", "not sent to the login page"
        page.fill("input[name=name]", "maria")
        page.fill("input[name=password]", PASSWORD)
        page.click("button:has-text('Sign in')")
        page.wait_for_url(base + "/calls")
        expect(page.locator("header .who")).to_have_text("maria · manager")

        # The queue: every seeded call is waiting for a review.
        n = len(live_server.seeded.calls)
        counts = page.locator("ul.counts li")
        expect(counts).to_have_text([f"{n} to review", "0 disputed", "0 confirmed", f"{n} in all"])
        rows = page.locator("table.queue tbody tr[data-call]")
        expect(rows).to_have_count(n)
        row = page.locator("tr[data-call='alex-good']")
        expect(row.locator(".badge")).to_have_text("unreviewed")
        expect(row.locator("td.confirmed-grade")).to_have_text("–")

        # The call page, with its recording.
        row.locator("a", has_text="alex-good").click()
        page.wait_for_url(base + "/calls/alex-good")
        expect(page.locator("h1")).to_contain_text("alex-good")
        player = page.locator("audio#player")
        expect(player).to_have_count(1)

        # Clicking evidence later in the call highlights its turn and seeks the player.
        evidence = page.locator("button.evidence[data-start]")
        starts = [float(s) for s in evidence.evaluate_all("b => b.map(e => e.dataset.start)")]
        # The latest moment: far enough from 0 that a player left at 0 cannot pass.
        start = max(starts, default=0.0)
        assert start > 1, f"no evidence with data-start > 1 s on the page: {starts}"
        button = evidence.nth(starts.index(start))
        turn = button.get_attribute("data-turn")
        page.evaluate(  # where each seek lands, before playback moves the time on
            "() => { const a = document.getElementById('player'); window.seekedTo = [];"
            " a.addEventListener('seeked', () => window.seekedTo.push(a.currentTime)); }"
        )
        button.click()
        expect(page.locator(f"#turn-{turn}")).to_have_class(
            _has_class("highlight"), timeout=TIMEOUT_MS
        )
        expect(page.locator("li.turn.highlight")).to_have_count(1)
        try:
            page.wait_for_function(
                "start => Math.abs(document.getElementById('player').currentTime - start) < 0.5",
                arg=start,
                polling=50,
                timeout=TIMEOUT_MS,
            )
        except Exception as exc:
            state = page.evaluate(
                "() => { const a = document.getElementById('player');"
                " return {currentTime: a.currentTime, readyState: a.readyState,"
                " networkState: a.networkState, duration: a.duration,"
                " error: a.error && a.error.message, paused: a.paused,"
                " seekable: a.seekable.length ? [a.seekable.start(0),"
                " a.seekable.end(0)] : []}; }"
            )
            raise AssertionError(
                f"the player did not move to {start} s after the evidence click: {state}"
            ) from exc
        # `seeked` fires once the seek completes, which may be after currentTime reads the target.
        page.wait_for_function("() => window.seekedTo.length > 0", polling=50, timeout=TIMEOUT_MS)
        seeked = page.evaluate("window.seekedTo")
        assert seeked and abs(seeked[0] - start) < 0.5, (
            f"the player's first seek after the click went to {seeked}, not {start} s"
        )

        # Override one item (met -> missed), which changes the grade, and confirm.
        detail = page.request.get(base + "/api/calls/alex-good")
        assert detail.status == 200, detail.text()
        suggested = detail.json()["suggested"]
        met = [
            item["id"]
            for phase in suggested["phases"]
            for item in phase["items"]
            if item["status"] == "met" and item["points"] > 0
        ]
        assert met, "alex-good has no met item to override"
        item_id = met[0]
        expected = recompute_grade(suggested, {item_id: ("missed", "")})
        assert expected["grade"] != suggested["grade"], "the override must move the grade"

        select = page.locator(f"select[name='status__{item_id}']")
        expect(select).to_have_value("met")
        select.select_option("missed")
        expect(page.locator(f"#item-{item_id}")).to_have_class(_has_class("changed"))
        page.fill(f"input[name='comment__{item_id}']", "not heard on the recording")
        page.click("#confirm-call")

        # Back on the queue, the call's row shows the grade the review stored.
        page.wait_for_url(base + "/calls?confirmed=alex-good")
        stored = page.request.get(base + "/api/calls/alex-good").json()
        confirmed = stored["confirmed"]
        assert confirmed is not None, "no confirmed grade stored"
        assert confirmed["grade"] == expected["grade"]
        assert confirmed["passed"] == expected["passed"]
        changed = {
            item["id"]: (item["status"], item["comment"])
            for phase in confirmed["phases"]
            for item in phase["items"]
            if item["overridden"]
        }
        assert changed == {item_id: ("missed", "not heard on the recording")}
        assert stored["suggested"]["grade"] == suggested["grade"], "suggestion changed"
        assert stored["review"]["status"] == "confirmed"

        row = page.locator("tr[data-call='alex-good']")
        expect(row.locator(".badge")).to_have_text("confirmed")
        expect(row.locator("td.confirmed-grade")).to_have_text(points(confirmed["grade"]))
        expect(page.locator("#confirmed-notice")).to_contain_text(
            f"{points(confirmed['grade'])} (suggested {points(suggested['grade'])})"
        )
        expect(counts).to_have_text(
            [f"{n - 1} to review", "0 disputed", "1 confirmed", f"{n} in all"]
        )
        assert script_errors == [], f"errors in the page's scripts: {script_errors}"


@pytest.mark.slow
def test_manager_clicks_the_sentence_that_earned_an_item(
    chromium: Path, live_server: LiveServer, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    base = live_server.url
    said = "How are you handling scheduling today?"  # alex-weak's turn 2
    with _browser_page(chromium, tmp_path) as (page, script_errors):
        page.goto(base + "/calls/alex-weak")
        page.fill("input[name=name]", "maria")
        page.fill("input[name=password]", PASSWORD)
        page.click("button:has-text('Sign in')")
        page.wait_for_url(base + "/calls/alex-weak")

        # A missed item has no sentence to choose; questions (partial) does.
        expect(page.locator("input[name='evidence__next_step']")).to_be_disabled()
        item = page.locator("#item-questions")
        field = page.locator("input[name='evidence__questions']")
        expect(field).to_be_enabled()
        expect(field).to_have_value("")

        # Setting it to met starts choosing: the next turn clicked is its evidence.
        page.locator("select[name='status__questions']").select_option("met")
        expect(item).to_have_class(_has_class("picking"))
        expect(page.locator("#pick-hint")).to_contain_text("Asks three discovery questions")
        page.locator("#turn-2 .text").click()
        expect(field).to_have_value("2")
        expect(page.locator("#turn-2")).to_have_class(_has_class("chosen"))
        expect(page.locator("li.turn.chosen")).to_have_count(1)
        expect(item).not_to_have_class(_has_class("picking"))
        expect(page.locator("#pick-hint")).to_be_hidden()
        expect(item.locator(".pick-chosen")).to_have_text(f"\u201c{said}\u201d")
        expect(item).to_have_class(_has_class("changed"))

        page.click("#confirm-call")
        page.wait_for_url(base + "/calls?confirmed=alex-weak")
        stored = page.request.get(base + "/api/calls/alex-weak").json()["confirmed"]
        questions = next(
            i for phase in stored["phases"] for i in phase["items"] if i["id"] == "questions"
        )
        assert (questions["status"], questions["evidence_by"]) == ("met", "maria")
        assert [(e["turn"], e["text"], e["method"]) for e in questions["evidence"]] == [
            (2, said, "manager")
        ]

        # The call page shows the sentence as the manager's choice.
        page.goto(base + "/calls/alex-weak")
        chosen = page.locator("#item-questions .chosen-by-manager button.evidence")
        expect(chosen).to_have_count(1)
        expect(chosen).to_contain_text(said)
        expect(chosen).to_contain_text("chosen by maria")
        chosen.click()  # and it leads to its turn, as any evidence does
        expect(page.locator("#turn-2")).to_have_class(_has_class("highlight"))
        assert script_errors == [], f"errors in the page's scripts: {script_errors}"


def _has_class(name: str) -> re.Pattern[str]:
    return re.compile(rf"(^|\s){re.escape(name)}(\s|$)")
