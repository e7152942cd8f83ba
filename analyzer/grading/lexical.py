"""Matching rubric phrases against spoken sentences by their words (the `fuzzy` and `exact`
modes, and the lexical half of `auto`).

A phrase matches a sentence when the sentence contains most of the phrase's (normalised) words,
close together. Each word may be misrecognised a little (rapidfuzz ratio per token, so "solution"
meets "solutions" and "akme" meets "acme"), function words count for less than content words, and
`{placeholders}` in a phrase stand for any words. The score is the weighted share of the phrase's
words found inside the best window of the sentence, from 0 to 1.

Work per call is a few array operations: the call's distinct tokens are compared with the
rubric's vocabulary once (rapidfuzz `cdist`), a sentence x vocabulary similarity matrix times the
phrase x vocabulary weight matrix gives every sentence/phrase coverage at once, and only the
promising pairs get the exact windowed score (`PhraseIndex`). `says_exactly` is the `exact`
mode: the phrase's words in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz, process

from analyzer.grading.text import PLACEHOLDER, Normalizer, Sentence, is_function_word

CONTENT_WEIGHT = 1.0
FUNCTION_WEIGHT = 0.3
TOKEN_CUTOFF = 80.0  # rapidfuzz ratio (0-100) above which two tokens are the same word misheard
FUZZY_MIN_LENGTH = 4  # shorter tokens must match exactly ("can" is not "man")
PREFILTER = 0.5  # coverage below which a sentence/phrase pair is not scored exactly
WINDOW_SLACK = 3  # extra words a sentence may put between the phrase's words
SLOT_WIDTH = 3  # words a `{placeholder}` may stand for


@dataclass(frozen=True)
class Phrase:
    """A rubric phrase, normalised once."""

    text: str
    tokens: tuple[str, ...]
    weights: tuple[float, ...]
    slots: int  # number of {placeholders}

    columns: np.ndarray = field(compare=False)  # vocabulary ids of the tokens
    weight_array: np.ndarray = field(compare=False)

    @property
    def window(self) -> int:
        return len(self.tokens) + self.slots * SLOT_WIDTH + WINDOW_SLACK

    @property
    def total(self) -> float:
        return sum(self.weights)


class PhraseIndex:
    """Every phrase of a rubric, their vocabulary and weight matrix: built once per rubric."""

    def __init__(self, phrases: Sequence[str], normalizer: Normalizer) -> None:
        self.phrases: list[Phrase] = []
        vocab: dict[str, int] = {}
        for text in phrases:
            tokens = normalizer.tokens(text)
            weights = tuple(
                FUNCTION_WEIGHT if is_function_word(t) else CONTENT_WEIGHT for t in tokens
            )
            for token in tokens:
                vocab.setdefault(token, len(vocab))
            self.phrases.append(
                Phrase(
                    text,
                    tokens,
                    weights,
                    len(PLACEHOLDER.findall(text)),
                    np.array([vocab[t] for t in tokens], dtype=np.int64),
                    np.array(weights, dtype=np.float32),
                )
            )
        self.vocab = vocab
        self.weights = np.zeros((len(self.phrases), len(vocab)), dtype=np.float32)
        for row, phrase in enumerate(self.phrases):
            total = sum(phrase.weights) or 1.0
            for token, weight in zip(phrase.tokens, phrase.weights, strict=True):
                self.weights[row, vocab[token]] += weight / total
        self._fuzzy_vocab = [t for t in vocab if _fuzzy_eligible(t)]
        self._fuzzy_ids = np.array([vocab[t] for t in self._fuzzy_vocab], dtype=np.int64)
        self._token_cache: dict[str, np.ndarray] = {}

    def token_similarity(self, tokens: Sequence[str]) -> np.ndarray:
        """Similarity (0-1) of each token to every vocabulary word: (tokens, vocabulary).

        Rows are cached across calls, so a night's batch compares each distinct word once.
        """
        missing = [t for t in dict.fromkeys(tokens) if t not in self._token_cache]
        if missing:
            rows = np.zeros((len(missing), len(self.vocab)), dtype=np.float32)
            fuzzy_rows = [i for i, t in enumerate(missing) if _fuzzy_eligible(t)]
            if fuzzy_rows and self._fuzzy_vocab:
                scores = process.cdist(
                    [missing[i] for i in fuzzy_rows],
                    self._fuzzy_vocab,
                    scorer=fuzz.ratio,
                    score_cutoff=TOKEN_CUTOFF,
                    dtype=np.uint8,
                    workers=1,
                )
                rows[np.ix_(fuzzy_rows, self._fuzzy_ids)] = scores.astype(np.float32) / 100.0
            if len(self._token_cache) + len(missing) > 200_000:  # a long batch: bound memory
                self._token_cache.clear()
            for i, token in enumerate(missing):
                exact = self.vocab.get(token)
                if exact is not None:
                    rows[i, exact] = 1.0
                self._token_cache[token] = rows[i]
        if not tokens:
            return np.zeros((0, len(self.vocab)), dtype=np.float32)
        return np.stack([self._token_cache[t] for t in tokens])

    def score(self, sentences: Sequence[Sentence]) -> np.ndarray:
        """Scores (0-1) of every sentence against every phrase: shape (sentences, phrases)."""
        scores = np.zeros((len(sentences), len(self.phrases)), dtype=np.float32)
        if not sentences or not self.phrases:
            return scores
        sims = self.token_similarity([t for s in sentences for t in s.tokens])
        offsets = np.cumsum([0] + [len(s.tokens) for s in sentences[:-1]])
        present = np.maximum.reduceat(sims, offsets, axis=0)  # (sentences, vocabulary)
        coverage = present @ self.weights.T
        for row, col in zip(*np.nonzero(coverage >= PREFILTER), strict=True):
            start = offsets[row]
            rows = sims[start : start + len(sentences[row].tokens)]
            scores[row, col] = self._window_score(rows, self.phrases[col])
        return scores

    def _window_score(self, sentence_sims: np.ndarray, phrase: Phrase) -> float:
        """Weighted share of the phrase's words found within one window of the sentence."""
        if phrase.total == 0:
            return 0.0
        credit = sentence_sims[:, phrase.columns] * phrase.weight_array  # (sentence, phrase)
        width = phrase.window
        if credit.shape[0] <= width:
            best = float(credit.max(axis=0).sum())
        else:
            windows = np.lib.stride_tricks.sliding_window_view(credit, width, axis=0)
            best = float(windows.max(axis=2).sum(axis=1).max())
        return min(1.0, best / phrase.total)


def _fuzzy_eligible(token: str) -> bool:
    return len(token) >= FUZZY_MIN_LENGTH and not token.startswith("~") and not token.isdigit()


def exact_chunks(phrase: str, normalizer: Normalizer) -> list[tuple[str, ...]]:
    """A phrase's words between its placeholders, each run normalised."""
    parts = PLACEHOLDER.split(phrase)
    return [tuple(normalizer.tokens(part)) for part in parts if normalizer.tokens(part)]


def says_exactly(tokens: tuple[str, ...], chunks: list[tuple[str, ...]]) -> bool:
    """Every run of the phrase in order, at most SLOT_WIDTH words apart (for a placeholder)."""
    start, first = 0, True
    for chunk in chunks:
        n = len(chunk)
        limit = len(tokens) - n if first else min(len(tokens) - n, start + SLOT_WIDTH)
        found = next((i for i in range(start, limit + 1) if tokens[i : i + n] == chunk), None)
        if found is None:
            return False
        start, first = found + n, False
    return True
