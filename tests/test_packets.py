"""`analyzer export --packet DIR`: per-rep coaching pages (HTML and Markdown), transcript
excerpts, expected phrases, audio clips, nothing half-written, and the CLI."""

from __future__ import annotations

import wave
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer.cli import main
from analyzer.config import ExportConfig
from analyzer.errors import AnalyzerError, ExportError
from analyzer.grading.rubric import Rubric
from analyzer.reports.export import export_rows
from analyzer.reports.packets import write_packets
from analyzer.review.decisions import ItemDecision, confirm_call
from analyzer.review.users import get_user
from analyzer.store import Store

from conftest import MINI_RUBRIC
from reviewing import seed_review_db, write_tone


class Collector(HTMLParser):
    """The page's text, its audio sources and links; fails on unbalanced section tags."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.audio: list[str] = []
        self.links: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "audio":
            self.audio.append(attrs["src"])
        elif tag == "a":
            self.links.append(attrs["href"])
        elif tag == "script":
            self.scripts += 1

    def handle_data(self, data):
        self.text.append(data)


def parse(path: Path) -> Collector:
    collector = Collector()
    collector.feed(path.read_text(encoding="utf-8"))
    collector.close()
    collector.joined = " ".join(" ".join(collector.text).split())
    return collector


@pytest.fixture
def db(tmp_path: Path, mini_rubric: Rubric) -> Path:
    """The review db; alex-weak gets a 60 s recording (relative to the db's folder)."""
    seeded = seed_review_db(tmp_path / "review.db", mini_rubric)
    write_tone(tmp_path / "alex-weak.wav", seconds=60.0)
    with Store.open(seeded.db) as store, store.writing("test") as conn:
        conn.execute("UPDATE calls SET audio_path = 'alex-weak.wav' WHERE call_id = 'alex-weak'")
    return seeded.db


@pytest.fixture
def with_rubric(db: Path) -> Path:
    (db.parent / "rubrics").mkdir()
    (db.parent / "rubrics" / "mini.yaml").write_text(MINI_RUBRIC, encoding="utf-8")
    return db


def rows_of(db: Path):
    with Store.open(db, readonly=True) as store:
        return export_rows(store, ExportConfig(), flagged_only=True)


def write(db: Path, out: Path) -> list[Path]:
    rows = rows_of(db)
    with Store.open(db, readonly=True) as store:
        return write_packets(store, rows, out)


def test_one_page_per_rep_with_missed_items_excerpts_phrases_and_clips(with_rubric, tmp_path):
    out = tmp_path / "packets"
    written = write(with_rubric, out)
    assert out / "index.html" in written
    for name in ("alex.html", "alex.md", "sam.html", "sam.md"):
        assert (out / name).is_file() and out / name in written
    assert not list(tmp_path.glob(".packets.*"))  # the temporary folder is gone

    index = parse(out / "index.html")
    assert {"alex.html", "sam.html"} <= set(index.links)

    alex = parse(out / "alex.html")
    assert alex.scripts == 0
    text = alex.joined
    assert "alex-weak" in text and "alex-good" not in text  # flagged calls only
    assert "Asks for a meeting with a day and time" in text  # the critical item missed
    assert "Close (0 of 20)" in text  # weak phase
    assert "Can we book a demo on Thursday at ten?" in text  # what the rubric expected
    assert "This offer expires today" in text  # forbidden phrase ("Never say")
    # the forbidden line said is called out, quoting what the rep said
    assert "Close: No false urgency (forbidden line said)" in text
    assert "Said a forbidden line: “This offer expires today, so think it over.”" in text
    assert "Flags: below_pass_mark critical_missed forbidden_said phase_below:close" in text
    # the excerpt around the forbidden line (turn 4 at 00:20), ±2 turns, with speaker and clock
    assert "00:20 Alex This offer expires today, so think it over." in text
    assert "00:10 Alex How are you handling scheduling today?" in text
    assert "00:25 Dana I'll think about it." in text

    # the clip: [20 - 2, 25 + 3] = 10 s, mono 16-bit at the decoded rate
    assert alex.audio == ["clips/alex-weak-no-pressure.wav"]
    clip = out / "clips" / "alex-weak-no-pressure.wav"
    assert clip in written
    with wave.open(str(clip)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        assert w.getnframes() / w.getframerate() == pytest.approx(10.0, abs=0.05)

    sam = parse(out / "sam.html")
    assert "no recording" in sam.joined and sam.audio == []


def test_markdown_mirrors_the_html(with_rubric, tmp_path):
    out = tmp_path / "packets"
    write(with_rubric, out)
    md = (out / "alex.md").read_text(encoding="utf-8")
    assert md.startswith("# Coaching packet: Alex")
    assert "## Call alex\\-weak" in md or "## Call alex-weak" in md
    assert "Asks for a meeting with a day and time (critical)" in md
    assert "Can we book a demo on Thursday at ten?" in md
    assert "Weak phases: Close (0 of 20)" in md
    assert "00:20 **Alex**: This offer expires today, so think it over." in md
    assert "### Close: No false urgency (forbidden line said)" in md
    assert "**Said a forbidden line:** “This offer expires today, so think it over.”" in md
    assert "Flags: `below_pass_mark`, `critical_missed`, `forbidden_said`" in md
    assert "[Listen to the clip](clips/alex-weak-no-pressure.wav)" in md
    assert "no recording" in (out / "sam.md").read_text(encoding="utf-8")


def test_a_clean_call_or_one_cleared_by_a_manager_says_no_forbidden_line(with_rubric, tmp_path):
    with Store.open(with_rubric) as store:
        maria = get_user(store, "maria")
        confirm_call(store, "alex-weak", maria, [ItemDecision("no_pressure", "met", "true")], 1)
    out = tmp_path / "packets"
    write(with_rubric, out)
    for name in ("alex.html", "sam.html"):  # alex-weak still flagged, sam-text never said it
        text = parse(out / name).joined
        assert "Said a forbidden line" not in text and "forbidden_said" not in text
    assert "Asks for a meeting with a day and time" in parse(out / "alex.html").joined


def test_without_the_rubric_file_the_item_text_is_shown(db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no rubrics/ here or beside the db
    out = tmp_path / "packets"
    write(db, out)
    text = parse(out / "alex.html").joined
    assert "Expected: Asks for a meeting with a day and time" in text
    assert "Can we book a demo on Thursday at ten?" not in text


def test_text_is_escaped(with_rubric, tmp_path):
    with Store.open(with_rubric) as store, store.writing("test") as conn:
        conn.execute("UPDATE reviews SET rep = '<b>Alex</b>' WHERE call_id = 'alex-weak'")
    out = tmp_path / "packets"
    write(with_rubric, out)
    page = next(p for p in out.glob("b-alex-b*.html"))
    raw = page.read_text(encoding="utf-8")
    assert "<b>Alex</b>" not in raw and "&lt;b&gt;Alex&lt;/b&gt;" in raw


def test_a_missing_recording_is_said_not_fatal(with_rubric, tmp_path):
    (tmp_path / "alex-weak.wav").unlink()
    out = tmp_path / "packets"
    written = write(with_rubric, out)
    assert not [p for p in written if p.suffix == ".wav"]
    assert "recording missing: alex-weak.wav" in parse(out / "alex.html").joined


def test_a_non_empty_folder_is_refused_and_left_alone(with_rubric, tmp_path):
    out = tmp_path / "packets"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ExportError, match="not empty") as caught:
        write(with_rubric, out)
    assert isinstance(caught.value, AnalyzerError)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert not list(tmp_path.glob(".packets.*"))


def test_an_empty_folder_is_filled(with_rubric, tmp_path):
    out = tmp_path / "packets"
    out.mkdir()
    write(with_rubric, out)
    assert (out / "alex.html").is_file()


def test_a_failure_leaves_nothing(with_rubric, tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("analyzer.reports.packets._rep_markdown", lambda rep: boom())
    out = tmp_path / "packets"
    with pytest.raises(ExportError, match="nothing was written"):
        write(with_rubric, out)
    assert not out.exists()
    assert not list(tmp_path.glob(".packets.*"))


def test_cli_export_packet(with_rubric, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "cli-packets"
    result = CliRunner().invoke(main, ["export", "--db", str(with_rubric), "--packet", str(out)])
    assert result.exit_code == 0, result.output
    assert f"to {out}" in result.output and "2 reps" in result.output
    assert (out / "index.html").is_file() and (out / "alex.md").is_file()

    again = CliRunner().invoke(main, ["export", "--db", str(with_rubric), "--packet", str(out)])
    assert again.exit_code != 0 and "not empty" in again.output

    both = CliRunner().invoke(
        main, ["export", "--db", str(with_rubric), "--packet", str(out), "--out", "x.csv"]
    )
    assert both.exit_code == 2
