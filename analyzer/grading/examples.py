"""What learning learns from, as the grader gives it: a labelled call (`Example`) and one
call's sentences as learning reads them (`SentenceInputs`, given by `Grader.sentence_inputs`).
Where examples come from (golden sets, confirmed calls) is `analyzer.learning.examples`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analyzer.grading.match import MEANING_OF
from analyzer.grading.rubric import Item
from analyzer.transcripts.transcript import Transcript


@dataclass(frozen=True)
class Example:
    """One labelled call: the statuses a person gave and the turns they marked per item."""

    call_id: str
    transcript: Transcript
    statuses: dict[str, str]  # item id -> met | partial | missed | na
    evidence: dict[str, tuple[int, ...]] = field(default_factory=dict)  # item id -> turns
    rep: str | None = None
    # every turn that did an item is marked (a golden set's evidence.csv), not just one a
    # manager clicked: then the other sentences of a marked call are negatives
    exhaustive: bool = False


@dataclass(frozen=True)
class SentenceInputs:
    """One call's sentences as learning reads them (Grader.sentence_inputs)."""

    turns: np.ndarray  # per sentence: its turn
    roles: np.ndarray  # per sentence: rep | customer
    embedded: np.ndarray  # per sentence: long enough to embed
    vectors: np.ndarray  # (sentences, dimensions)
    columns: dict[str, dict[str, np.ndarray]]  # item id -> feature -> per sentence

    def rows(self, item: Item) -> np.ndarray:
        """The sentences whose meaning the item reads (its party's, embedded)."""
        return np.nonzero(self.embedded & (self.roles == MEANING_OF[item.speaker]))[0]
