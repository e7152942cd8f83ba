import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from analyzer.grading.rubric import Rubric, load_rubric, parse_rubric

ROOT = Path(__file__).resolve().parents[1]

# A small form that exercises every rule: an optional first phase with triggers, a min_count
# item, a critical item, a forbidden item, an optional interleaving phase, a customer item.
MINI_RUBRIC = """\
rubric: mini
title: Mini prospecting form
version: 1
pass_mark: 70
phases:
  - id: screen
    title: Getting through
    weight: 10
    optional: true
    triggers: ["Who's calling, please?", "What is this regarding?"]
    items:
      - id: screen_ask
        text: Asks for the decision maker
        points: 10
        phrases: ["Can I speak with the person in charge of purchasing?"]
  - id: open
    title: Opening
    weight: 20
    items:
      - id: intro
        text: Gives name and company
        points: 10
        phrases: ["This is Alex from Acme Solutions"]
      - id: permission
        text: Asks for permission
        points: 10
        phrases: ["Is now a bad time?", "Have you got two minutes?"]
  - id: discover
    title: Discovery
    weight: 40
    items:
      - id: questions
        text: Asks three discovery questions
        points: 30
        min_count: 3
        phrases:
          - "How are you handling scheduling today?"
          - "What is the biggest challenge with that?"
          - "How many reps are on the team?"
      - id: pain
        text: The customer names a pain
        points: 10
        speaker: customer
        phrases: ["It's a real headache for us"]
  - id: pushback
    title: Objections
    weight: 10
    optional: true
    triggers: ["We're happy with our current provider", "It's too expensive"]
    items:
      - id: acknowledge
        text: Acknowledges the objection
        points: 10
        phrases: ["I completely understand"]
  - id: close
    title: Close
    weight: 20
    items:
      - id: next_step
        text: Asks for a meeting with a day and time
        points: 15
        critical: true
        phrases: ["Can we book a demo on Thursday at ten?"]
      - id: no_pressure
        text: No false urgency
        points: 5
        forbidden: true
        phrases: ["This offer expires today"]
"""


@pytest.fixture(scope="session")
def mini_rubric() -> Rubric:
    return parse_rubric(MINI_RUBRIC, "mini.yaml")


@pytest.fixture(scope="session")
def default_rubric() -> Rubric:
    return load_rubric(ROOT / "rubrics" / "inside-sales.yaml")


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """scrypt at a test's cost: the format and checks are the same, the work 128 times less."""
    monkeypatch.setattr("analyzer.review.users.SCRYPT_N", 2**8)


_REAL_MODEL = {"on": False}


@pytest.fixture(scope="session", autouse=True)
def words_only_unless_semantic() -> Iterator[None]:
    """No embedding model is found outside modules that ask for `real_semantic_model`, so `auto`
    items match by their words (as on an install without the semantic extra): the rest of the
    suite tests the CLI, store and web without a transformer's cost on every call graded."""
    from analyzer.errors import ModelError
    from analyzer.grading import semantic

    real = semantic.get_embedder

    def guarded() -> semantic.Embedder:
        if not _REAL_MODEL["on"]:
            raise ModelError("no sentence-embedding model in this test")
        return real()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(semantic, "get_embedder", guarded)
        mp.setattr(logging.getLogger("analyzer.grading.match"), "disabled", True)
        yield


@pytest.fixture(scope="module")
def real_semantic_model() -> Iterator[None]:
    """The real all-MiniLM-L6-v2 for this module's tests (mark them `semantic` too)."""
    _REAL_MODEL["on"] = True
    yield
    _REAL_MODEL["on"] = False


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fuzz tally (tests/fuzzing.py): inputs tried per target, and how each ended."""
    from fuzzing import summary_lines

    lines = summary_lines()
    if lines:
        terminalreporter.section("fuzz: inputs per target")
        for line in lines:
            terminalreporter.write_line(line)
