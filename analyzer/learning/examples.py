"""Where learning's examples come from: golden sets (labels.csv, and evidence.csv when there
is one) and the calls managers confirmed on the review page, with the sentences they marked.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from analyzer.errors import LearnedFileError
from analyzer.grading.examples import Example
from analyzer.grading.rubric import Rubric
from analyzer.learning.golden import read_golden
from analyzer.review.views import confirmed_examples
from analyzer.store import Store
from analyzer.transcripts.transcript import transcript_from_dict


def examples_from_golden(folders: Sequence[Path], rubric: Rubric) -> list[Example]:
    """Every labelled call of the golden sets (labels.csv, evidence.csv when there is one);
    each folder is checked whole (`golden.read_golden`)."""
    examples: list[Example] = []
    seen: dict[str, Path] = {}
    for folder in folders:
        for example in read_golden(Path(folder), rubric).examples():
            if example.call_id in seen:
                raise LearnedFileError(
                    folder, f"call {example.call_id} is also in {seen[example.call_id]}"
                )
            seen[example.call_id] = Path(folder)
            examples.append(example)
    return examples


def examples_from_store(db_path: Path, rubric: Rubric) -> list[Example]:
    """The calls managers confirmed for this rubric version: their item statuses (overrides
    included) and the sentences they marked as evidence on the review page."""
    with Store.open(db_path, readonly=True) as store:
        confirmed = confirmed_examples(store, rubric.rubric, rubric.version)
    return [
        Example(
            c.call_id,
            transcript_from_dict(c.transcript, c.call_id),
            dict(c.statuses),
            {item_id: tuple(turns) for item_id, turns in c.evidence_turns.items()},
        )
        for c in confirmed
    ]
