"""The HTML report and a coaching packet, opened in a real browser (Debian's Chromium).

A manager opens these files from disk: every chart must decode and every clip must load and play
its length. Skipped only where /usr/bin/chromium is missing.
"""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from analyzer.config import ExportConfig
from analyzer.reports.analysis import build_report
from analyzer.reports.export import export_rows
from analyzer.reports.packets import write_packets
from analyzer.reports.report import render_html, write_report
from analyzer.store import Store

from browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, require_chromium
from reviewing import seed_review_db, write_tone


@pytest.fixture
def files(tmp_path: Path, mini_rubric) -> tuple[Path, Path]:
    """The HTML report and the packet of the rep Alex, written from a seeded database."""
    require_chromium()
    seeded = seed_review_db(tmp_path / "review.db", mini_rubric)
    write_tone(tmp_path / "alex-weak.wav", seconds=40.0)
    with Store.open(seeded.db) as store:
        with store.writing("test") as conn:
            conn.execute(
                "UPDATE calls SET audio_path = 'alex-weak.wav' WHERE call_id = 'alex-weak'"
            )
            conn.execute("UPDATE calls SET outcome = 'won' WHERE rep = 'Sam'")
            conn.execute("UPDATE calls SET outcome = 'lost' WHERE rep = 'Alex'")
        report = tmp_path / "report.html"
        write_report(render_html(build_report(store, period="day", by="phase")), report)
        rows = export_rows(store, ExportConfig(), flagged_only=True)
        written = write_packets(store, rows, tmp_path / "packets")
    alex = next(p for p in written if p.suffix == ".html" and p.stem.startswith("alex"))
    return report, alex


@pytest.mark.slow
def test_the_report_and_a_packet_open_with_their_charts_and_clips(files) -> None:
    from playwright.sync_api import sync_playwright

    report, packet = files
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[*CHROMIUM_ARGS, "--allow-file-access-from-files"],
        )
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))

            page.goto(report.as_uri())
            images = page.locator("img")
            assert images.count() == 3  # progress, top 20% vs rest, close rate per item
            page.wait_for_function(
                "() => [...document.images].every(i => i.complete)", timeout=TIMEOUT_MS
            )
            widths = page.evaluate("() => [...document.images].map(i => i.naturalWidth)")
            assert all(w > 300 for w in widths), widths
            assert "Top 20%" in page.inner_text("body")

            page.goto(packet.as_uri())
            clips = page.locator("audio")
            assert clips.count() >= 1
            # The page loads no audio until asked (preload="none"): ask, as a click on play does.
            page.evaluate(
                "() => document.querySelectorAll('audio').forEach(a => {"
                " a.preload = 'metadata'; a.load(); })"
            )
            page.wait_for_function(
                "() => [...document.querySelectorAll('audio')].every(a => a.readyState >= 1)",
                timeout=TIMEOUT_MS,
            )
            durations = page.evaluate(
                "() => [...document.querySelectorAll('audio')].map(a => a.duration)"
            )
            sources = page.evaluate(
                "() => [...document.querySelectorAll('audio')].map(a => a.getAttribute('src'))"
            )
            for source, duration in zip(sources, durations, strict=True):
                with wave.open(str(packet.parent / source)) as clip:
                    seconds = clip.getnframes() / clip.getframerate()
                assert 5.0 <= seconds <= 30.0  # the moment, 2 s before and 3 s after
                assert duration == pytest.approx(seconds, abs=0.1), (source, duration)
            text = page.inner_text("body")
            assert "alex-weak" in text
            assert errors == []
        finally:
            browser.close()
