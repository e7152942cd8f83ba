"""Matching rubric phrases against spoken sentences: lexical, semantic, or both.

A phrase matches a sentence when the sentence contains most of the phrase's (normalised) words,
close together. Each word may be misrecognised a little (rapidfuzz ratio per token, so "solution"
meets "solutions" and "akme" meets "acme"), function words count for less than content words, and
`{placeholders}` in a phrase stand for any words. The score is the weighted share of the phrase's
words found inside the best window of the sentence, from 0 to 1.

Work per call is a few array operations: the call's distinct tokens are compared with the
rubric's vocabulary once (rapidfuzz `cdist`), a sentence x vocabulary similarity matrix times the
phrase x vocabulary weight matrix gives every sentence/phrase coverage at once, and only the
promising pairs get the exact windowed score.

Each item has a `match` mode. `fuzzy` is the lexical score alone; `exact` wants the phrase's
words in order; `semantic` and `auto` (the default) add a sentence embedding (semantic.py) and
score the sentence with a model fitted on labelled data (calibration.py): `auto` weighs the
lexical score and the meaning together, so a line said nearly word for word counts, a
paraphrase can, and a near miss that shares the words need not; `semantic` ignores the words.
Every sentence with a word is embedded (MIN_SEMANTIC_TOKENS); one with fewer would keep its
lexical score in `auto`. Once the call's roles are known, an item reads the meaning of its own
party's sentences only (MEANING_OF), and only those are embedded. When no embedding model can be
found, `auto` items fall back to `fuzzy` (the matcher's `description` says so) while `semantic`
items stop with a ModelError.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from rapidfuzz import fuzz, process

from analyzer.errors import ModelError
from analyzer.grading.calibration import (
    asks_a_question,
    feature_columns,
    load_calibration,
    sentence_cues,
)
from analyzer.grading.rubric import Rubric
from analyzer.grading.text import PLACEHOLDER, Normalizer, Sentence, is_function_word
from analyzer.grading.thresholds import MET_SCORE
from analyzer.transcripts.transcript import Turn

log = logging.getLogger(__name__)

CONTENT_WEIGHT = 1.0
FUNCTION_WEIGHT = 0.3
TOKEN_CUTOFF = 80.0  # rapidfuzz ratio (0-100) above which two tokens are the same word misheard
FUZZY_MIN_LENGTH = 4  # shorter tokens must match exactly ("can" is not "man")
PREFILTER = 0.5  # coverage below which a sentence/phrase pair is not scored exactly
WINDOW_SLACK = 3  # extra words a sentence may put between the phrase's words
SLOT_WIDTH = 3  # words a `{placeholder}` may stand for
# Sentences with fewer words are not embedded. Greetings and acknowledgements are short ("Hey
# there", "I understand"): on the real development sets embedding every sentence lifted kappa
# (0.35 -> 0.39 on charity-pitch zero-shot, 0.49 -> 0.55 learned), and the fitted model does not
# credit a backchannel ("sure") for anything.
MIN_SEMANTIC_TOKENS = 1
# Whose sentences a semantic item reads the meaning of, by its `speaker`. An item either party
# may voice ("just to confirm, Tuesday at ten") is the rep's behaviour: its meaning is read in
# the rep's sentences and the other party's count by their words, as triggers do. So a call whose
# rep is known embeds the rep's half only (rubrics with `speaker: customer` items embed both).
MEANING_OF = {"rep": "rep", "customer": "customer", "any": "rep"}
# What decided a sentence's score in `auto` and `semantic` mode: the words, the zero-shot
# meaning, or a model learned from confirmed calls (analyzer.grading.learn).
METHODS = ("fuzzy", "semantic", "learned")


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


@dataclass(frozen=True)
class SpokenSentence:
    """A sentence of the call, with the turn it belongs to."""

    turn: int  # index in transcript.turns
    speaker: str
    text: str
    tokens: tuple[str, ...]


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


@dataclass
class CallMatches:
    """Every sentence of a call scored against every item's phrases and every phase's triggers.

    `item_scores[item_id][k]` is the best score of sentence k against the item's phrases,
    `item_phrase[item_id][k]` the phrase that gave it and `item_method[item_id][k]` the method
    that decided it (fuzzy, semantic, exact); likewise for triggers per phase id.
    """

    sentences: list[SpokenSentence]
    item_scores: dict[str, np.ndarray]
    item_phrase: dict[str, Sequence[str]]
    trigger_scores: dict[str, np.ndarray]
    trigger_phrase: dict[str, Sequence[str]]
    item_method: dict[str, Sequence[str]] = field(default_factory=dict)
    # the lexical scores (sentences, phrases) these came from, for `RubricMatcher.rematch`
    lexical: np.ndarray | None = field(default=None, repr=False, compare=False)


class RubricMatcher:
    """Matches a rubric's phrases against calls. Build once per rubric, reuse for every call.

    `description` says how it matches (e.g. "auto (fuzzy + all-MiniLM-L6-v2, 2 layers)"), for the
    grade.
    """

    def __init__(
        self, rubric: Rubric, normalizer: Normalizer, learned: LearnedItems | None = None
    ) -> None:
        self.normalizer = normalizer
        # Items with a model learned from confirmed calls (analyzer.grading.learn): it scores their
        # sentences in place of the zero-shot calibration.
        self.learned = learned
        phrases: list[str] = []
        self._columns: dict[tuple[str, str], list[int]] = {}  # lexical: the phrases
        texts: dict[tuple[str, str], str] = {}  # an item's own text, a query for its meaning
        self._modes: dict[tuple[str, str], str] = {}
        self._asks: dict[tuple[str, str], bool] = {}
        # Triggers decide whether an optional phase applies at all, and a phase applied wrongly
        # costs the rep its points: they are matched by their words. (The semantic model is
        # fitted on items; on the sample calls, meaning-matched triggers applied the gatekeeper
        # phase to calls that had none.)
        triggers = "fuzzy"
        for phase in rubric.phases:
            key = ("trigger", phase.id)
            self._columns[key] = _extend(phrases, phase.triggers)
            self._modes[key], self._asks[key] = triggers, asks_a_question(phase.triggers)
            for item in phase.items:
                key = ("item", item.id)
                self._columns[key] = _extend(phrases, item.phrases)
                self._modes[key], self._asks[key] = item.match, asks_a_question(item.phrases)
                texts[key] = item.text
        # Whose meaning each semantic item reads, once the call's roles are known (MEANING_OF):
        # only those speakers' sentences are embedded.
        self._reads: dict[tuple[str, str], str] = {
            ("item", item.id): MEANING_OF[item.speaker]
            for item in rubric.items
            if item.match in ("auto", "semantic")
        }
        self.index = PhraseIndex(phrases, normalizer)
        # What an item's meaning is read against: its phrases and its own text ("Asks what the
        # other person needs most"), which says the behaviour when two phrases cannot. The
        # queries are the phrases followed by the texts, so a phrase has one index in both.
        self.queries = list(phrases)
        self._query_columns = {
            key: cols + ([_extend(self.queries, [texts[key]])[0]] if key in texts else [])
            for key, cols in self._columns.items()
        }
        self._exact = {
            key: [_exact_chunks(phrases[c], normalizer) for c in cols]
            for key, cols in self._columns.items()
            if self._modes[key] == "exact"
        }
        self.semantic = None
        modes = set(self._modes.values())
        self.description = "fuzzy" if modes <= {"fuzzy", "exact"} else ""
        if modes & {"auto", "semantic"} and any(self._columns.values()):
            from analyzer.grading.semantic import PhraseEmbeddings, get_embedder

            try:
                self.semantic = PhraseEmbeddings(self.queries, get_embedder())
            except ModelError as e:
                explicit = sorted(k for (kind, k), m in self._modes.items() if m == "semantic")
                if explicit:
                    raise ModelError(f"items {', '.join(explicit)} match semantically: {e}") from e
                log.warning("semantic matching is off: %s", e)
                self._modes = {k: "fuzzy" if m == "auto" else m for k, m in self._modes.items()}
                self.description = "fuzzy (no sentence-embedding model: auto fell back)"
            else:
                self.description = f"auto (fuzzy + {self.semantic.embedder.name})"
                fitted = load_calibration().layers
                if fitted is not None and fitted != self.semantic.embedder.layers:
                    log.warning(
                        "the semantic calibration was fitted with %d layers of the model, not "
                        "%d: re-fit it (tools/calibrate_matching.py) or set semantic_layers = %d",
                        fitted,
                        self.semantic.embedder.layers,
                        fitted,
                    )
        self.modes = {key: mode for (_, key), mode in self._modes.items()}

    def split(self, turns: Sequence[Turn]) -> list[SpokenSentence]:
        per_turn = self.normalizer.sentences_of([turn.text for turn in turns])
        return [
            SpokenSentence(i, turn.speaker, s.text, s.tokens)
            for i, (turn, sentences) in enumerate(zip(turns, per_turn, strict=True))
            for s in sentences
        ]

    def match_call(
        self, turns: Sequence[Turn], roles: Mapping[str, str] | None = None
    ) -> CallMatches:
        """Score every sentence against every item and trigger set.

        `roles` (speaker -> rep | customer): the call's roles. A semantic item then reads the
        meaning of its own party's sentences only (MEANING_OF), so only those are embedded, and
        every other sentence keeps its lexical score. Without roles, every sentence's meaning
        is read: the scores a rep is inferred from (then match again with the roles decided).
        """
        return self._match(self.split(turns), roles)

    def rematch(self, matches: CallMatches, roles: Mapping[str, str]) -> CallMatches:
        """`match_call` again with the roles decided, from the sentences and lexical scores
        already found (the embeddings come from the embedder's cache)."""
        return self._match(matches.sentences, roles, matches.lexical)

    def _match(
        self,
        sentences: list[SpokenSentence],
        roles: Mapping[str, str] | None,
        lexical: np.ndarray | None = None,
    ) -> CallMatches:
        scores = self.index.score(sentences) if lexical is None else lexical
        texts = self.queries  # the phrases first: a lexical match indexes them as well
        of_role = self._sentences_of_roles(sentences, roles)
        searched = None
        if of_role is not None:
            searched = np.zeros(len(sentences), dtype=bool)
            for mask in of_role.values():
                searched |= mask
        meaning = self.semantic_features(sentences, scores, searched)
        long = _long_enough(sentences)
        result = CallMatches(sentences, {}, {}, {}, {}, lexical=scores)
        for (kind, key), cols in self._columns.items():
            mode = self._modes[(kind, key)]
            best, phrase = _best_of(scores, cols, texts)
            method = ["fuzzy"] * len(sentences)
            if mode == "exact":
                best = self._exact_scores(sentences, self._exact[(kind, key)])
                method = ["exact"] * len(sentences)
            elif mode in ("auto", "semantic") and meaning is not None and cols:
                reads = meaning.embedded
                if of_role is not None:
                    reads = reads & of_role[self._reads[(kind, key)]]
                best, phrase, method = _combined(
                    mode, best, phrase, meaning, (kind, key), reads, long & ~reads
                )
                learned = self.learned.get((kind, key)) if self.learned is not None else None
                if learned is not None:
                    best, method = _learned(learned, best, method, meaning, (kind, key), reads)
            if kind == "item":
                result.item_scores[key], result.item_phrase[key] = best, phrase
                result.item_method[key] = method
            else:
                result.trigger_scores[key], result.trigger_phrase[key] = best, phrase
        return result

    def _sentences_of_roles(
        self, sentences: list[SpokenSentence], roles: Mapping[str, str] | None
    ) -> dict[str, np.ndarray] | None:
        """For each role whose meaning a semantic item reads, which sentences are that role's;
        None when the roles are not known yet."""
        if roles is None:
            return None
        role = np.array([roles.get(s.speaker, "customer") for s in sentences], dtype=object)
        return {wanted: role == wanted for wanted in set(self._reads.values())}

    def semantic_features(
        self,
        sentences: list[SpokenSentence],
        lexical: np.ndarray | None = None,
        searched: np.ndarray | None = None,
    ) -> SemanticFeatures | None:
        """The calibrated models' inputs for every item and trigger set, per sentence; None
        when nothing here matches semantically. `lexical`: `self.index.score(sentences)`;
        `searched`: which sentences to embed (None: every one long enough)."""
        cosine, embedded, vectors = self._cosine(sentences, searched)
        if cosine is None:
            return None
        lexical = self.index.score(sentences) if lexical is None else lexical
        nearest = _nearest(cosine, self._query_columns, self.queries)
        cues = sentence_cues([s.text for s in sentences])
        return SemanticFeatures(
            columns={
                key: feature_columns(
                    _best_of(lexical, self._columns[key], self.queries)[0],
                    near.cosine,
                    near.others,
                    cues,
                    self._asks[key],
                )
                for key, near in nearest.items()
            },
            phrase={key: near.phrase for key, near in nearest.items()},
            embedded=embedded,
            vectors=vectors,
        )

    def _cosine(
        self, sentences: list[SpokenSentence], searched: np.ndarray | None = None
    ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
        """(sentences, queries) cosine of the sentences long enough to embed (and searched, if
        given); which those are; their embeddings (zero rows for the others)."""
        embedded = _long_enough(sentences)
        if searched is not None:
            embedded &= searched
        if self.semantic is None:
            return None, embedded, None
        cosine = np.zeros((len(sentences), len(self.queries)), dtype=np.float32)
        vectors = np.zeros((len(sentences), self.semantic.embedder.dimensions), dtype=np.float32)
        rows = np.nonzero(embedded)[0]
        if rows.size:
            vectors[rows], cosine[rows] = self.semantic.embed([sentences[k].text for k in rows])
        return cosine, embedded, vectors

    def _exact_scores(
        self, sentences: list[SpokenSentence], phrases: list[list[tuple[str, ...]]]
    ) -> np.ndarray:
        """1.0 where a sentence says one of the phrases word for word (placeholders aside)."""
        return np.array(
            [float(any(_says_exactly(s.tokens, chunks) for chunks in phrases)) for s in sentences],
            dtype=np.float32,
        )


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


def _nearest(
    cosine: np.ndarray, columns: dict[tuple[str, str], list[int]], texts: list[str]
) -> dict[tuple[str, str], Nearest]:
    """Per item and trigger set: its best cosine per sentence, and the best of all the others."""
    keys = [key for key, cols in columns.items() if cols]
    if not keys:
        return {}
    best = {key: _best_of(cosine, columns[key], texts) for key in keys}
    table = np.stack([best[key][0] for key in keys], axis=1)  # (sentences, keys)
    order = np.argsort(-table, axis=1)
    rows = np.arange(table.shape[0])
    first = table[rows, order[:, 0]]
    second = table[rows, order[:, 1]] if len(keys) > 1 else np.full_like(first, -1.0)
    return {
        key: Nearest(best[key][0], best[key][1], np.where(order[:, 0] == j, second, first))
        for j, key in enumerate(keys)
    }


def _combined(
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
    """A learned item model, as the matcher uses it (analyzer.grading.learn.ItemModel)."""

    def score(self, vectors: np.ndarray, columns: dict[str, np.ndarray]) -> np.ndarray: ...


class LearnedItems(Protocol):
    """Learned models by (kind, id), as the matcher looks them up (`learn.Learned`)."""

    def get(self, key: tuple[str, str]) -> ItemScorer | None: ...


def _learned(
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


def _exact_chunks(phrase: str, normalizer: Normalizer) -> list[tuple[str, ...]]:
    """A phrase's words between its placeholders, each run normalised."""
    parts = PLACEHOLDER.split(phrase)
    return [tuple(normalizer.tokens(part)) for part in parts if normalizer.tokens(part)]


def _says_exactly(tokens: tuple[str, ...], chunks: list[tuple[str, ...]]) -> bool:
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


def _long_enough(sentences: Sequence[SpokenSentence]) -> np.ndarray:
    """Which sentences have enough words to embed (MIN_SEMANTIC_TOKENS)."""
    return np.array([len(s.tokens) >= MIN_SEMANTIC_TOKENS for s in sentences], dtype=bool)


def _extend(phrases: list[str], new: Sequence[str]) -> list[int]:
    start = len(phrases)
    phrases.extend(new)
    return list(range(start, len(phrases)))


def _best_of(scores: np.ndarray, cols: list[int], texts: list[str]) -> tuple[np.ndarray, Choices]:
    """Per sentence (row): the best score among `cols` and the phrase (of `texts`) it came from."""
    rows = scores.shape[0]
    if not cols:
        return np.zeros(rows, dtype=np.float32), Choices([""], np.zeros(rows, dtype=np.int64))
    block = scores[:, cols]
    arg = block.argmax(axis=1)
    best = block[np.arange(rows), arg]
    return best, Choices(texts, np.asarray(cols, dtype=np.int64)[arg])
