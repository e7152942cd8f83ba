"""Scoring sentences by their meaning (the `semantic` and `auto` modes), and how every
per-sentence score records where it came from.

A sentence's meaning is read as its embedding's cosine with each item's phrases and text; the
calibrated models' inputs for one call are its `SemanticFeatures` (`nearest_phrases` finds each
item's best phrase and the best of the others). `combined_scores` decides an item's score per
sentence in `auto` (the words and the meaning weighed together) or `semantic` mode (the meaning
alone); where a model learned from confirmed calls exists, `learned_scores` lets it decide.
`Choices` keeps, per sentence, which phrase matched and which method decided (METHODS);
`best_of` picks a sentence's best phrase from any score table, lexical or semantic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from analyzer.grading.calibration import load_calibration
from analyzer.grading.thresholds import MET_SCORE

# What decided a sentence's score in `auto` and `semantic` mode: the words, the zero-shot
# meaning, or a model learned from confirmed calls (analyzer.learning.learn).
METHODS = ("fuzzy", "semantic", "learned")


class Choices(Sequence[str]):
    """Per sentence, one of a few strings (the phrase that matched, the method that decided),
    kept as an index and made a string when read: a call has a few hundred sentences for every
    item, and only the evidence a grade shows is ever read."""

    __slots__ = ("index", "options")

    def __init__(self, options: Sequence[str], index: np.ndarray) -> None:
        self.options = options
        self.index = index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, k):  # type: ignore[override]
        if isinstance(k, slice):
            return [self.options[i] for i in self.index[k]]
        return self.options[self.index[k]]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Choices({list(self)!r})"


def best_of(scores: np.ndarray, cols: list[int], texts: list[str]) -> tuple[np.ndarray, Choices]:
    """Per sentence (row): the best score among `cols` and the phrase (of `texts`) it came from."""
    rows = scores.shape[0]
    if not cols:
        return np.zeros(rows, dtype=np.float32), Choices([""], np.zeros(rows, dtype=np.int64))
    block = scores[:, cols]
    arg = block.argmax(axis=1)
    best = block[np.arange(rows), arg]
    return best, Choices(texts, np.asarray(cols, dtype=np.int64)[arg])


@dataclass(frozen=True)
class SemanticFeatures:
    """What the semantic score of every item and trigger set is computed from, for one call."""

    columns: dict[tuple[str, str], dict[str, np.ndarray]]  # (kind, id) -> feature -> per sentence
    phrase: dict[tuple[str, str], Choices]  # (kind, id) -> the nearest phrase per sentence
    embedded: np.ndarray  # whether each sentence was long enough to embed
    vectors: np.ndarray | None = None  # (sentences, dimensions) embeddings; zero where not


@dataclass(frozen=True)
class Nearest:
    """One item's (or phase's triggers') semantic neighbourhood, per sentence of a call."""

    cosine: np.ndarray  # best cosine with the item's phrases
    phrase: Choices  # the phrase that gave it
    others: np.ndarray  # best cosine with any other item's or trigger's phrases


def nearest_phrases(
    cosine: np.ndarray, columns: dict[tuple[str, str], list[int]], texts: list[str]
) -> dict[tuple[str, str], Nearest]:
    """Per item and trigger set: its best cosine per sentence, and the best of all the others."""
    keys = [key for key, cols in columns.items() if cols]
    if not keys:
        return {}
    best = {key: best_of(cosine, columns[key], texts) for key in keys}
    table = np.stack([best[key][0] for key in keys], axis=1)  # (sentences, keys)
    order = np.argsort(-table, axis=1)
    rows = np.arange(table.shape[0])
    first = table[rows, order[:, 0]]
    second = table[rows, order[:, 1]] if len(keys) > 1 else np.full_like(first, -1.0)
    return {
        key: Nearest(best[key][0], best[key][1], np.where(order[:, 0] == j, second, first))
        for j, key in enumerate(keys)
    }


def combined_scores(
    mode: str,
    fuzzy: np.ndarray,
    fuzzy_phrase: Choices,
    meaning: SemanticFeatures,
    key: tuple[str, str],
    reads: np.ndarray,
    by_words: np.ndarray,
) -> tuple[np.ndarray, Choices, Choices]:
    """An item's score per sentence in `auto` or `semantic` mode, its phrase and its method.

    `reads`: the sentences whose meaning is scored; `by_words`: those scored by their words
    instead in `semantic` mode (another party's, see MEANING_OF). `auto` scores every sentence
    it does not read by its words; `semantic` gives the rest (short sentences) nothing.
    """
    calibration = load_calibration()
    if mode == "auto":
        # One model weighs the words and the meaning, so a line said nearly word for word counts,
        # a paraphrase can, and "we scheduled the follow-up last week" does not. Evidence says
        # "fuzzy" where the words alone would have shown the behaviour, "semantic" where not.
        score = np.where(reads, calibration.auto.score(meaning.columns[key]), fuzzy)
        lexical = (fuzzy >= MET_SCORE) | ~reads  # the words decided where no meaning was read
    else:
        semantic = calibration.semantic.score(meaning.columns[key])
        score = np.where(reads, semantic, np.where(by_words, fuzzy, 0.0))
        lexical = ~reads & by_words
    score = score.astype(np.float32)
    nearest = meaning.phrase[key]  # both index the matcher's phrase texts
    phrase = Choices(fuzzy_phrase.options, np.where(lexical, fuzzy_phrase.index, nearest.index))
    method = Choices(METHODS, (~lexical).astype(np.int8))
    return score, phrase, method


class ItemScorer(Protocol):
    """A learned item model, as the matcher uses it (analyzer.grading.learned.ItemModel)."""

    def score(self, vectors: np.ndarray, columns: dict[str, np.ndarray]) -> np.ndarray: ...


class LearnedItems(Protocol):
    """Learned models by (kind, id), as the matcher looks them up (`learned.Learned`)."""

    def get(self, key: tuple[str, str]) -> ItemScorer | None: ...


def learned_scores(
    model: ItemScorer,
    best: np.ndarray,
    method: Choices,
    meaning: SemanticFeatures,
    key: tuple[str, str],
    reads: np.ndarray,
) -> tuple[np.ndarray, Choices]:
    """An item's score where a learned model reads the meaning: that model decides there (it
    weighs the words too); elsewhere the score stays as it was."""
    assert meaning.vectors is not None
    rows = np.nonzero(reads)[0]
    score = best.copy()
    if rows.size:
        columns = {name: values[rows] for name, values in meaning.columns[key].items()}
        score[rows] = model.score(meaning.vectors[rows], columns)
    decided = np.where(reads, METHODS.index("learned"), method.index).astype(np.int8)
    return score.astype(np.float32), Choices(METHODS, decided)
