"""Matching rubric phrases against a call's sentences: lexical, semantic, or both
(`RubricMatcher`).

Each item has a `match` mode. `fuzzy` is the lexical score alone (lexical.py); `exact` wants the
phrase's words in order; `semantic` and `auto` (the default) add a sentence embedding
(semantic.py) and score the sentence with a model fitted on labelled data (calibration.py,
meaning.py): `auto` weighs the lexical score and the meaning together, so a line said nearly
word for word counts, a paraphrase can, and a near miss that shares the words need not;
`semantic` ignores the words. Every sentence with a word is embedded (MIN_SEMANTIC_TOKENS); one
with fewer would keep its lexical score in `auto`. Once the call's roles are known, an item
reads the meaning of its own party's sentences only (MEANING_OF), and only those are embedded.
When no embedding model can be found, `auto` items fall back to `fuzzy` (the matcher's
`description` says so) while `semantic` items stop with a ModelError.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from analyzer.errors import ModelError
from analyzer.grading.calibration import (
    asks_a_question,
    feature_columns,
    load_calibration,
    sentence_cues,
)
from analyzer.grading.lexical import PhraseIndex, exact_chunks, says_exactly
from analyzer.grading.meaning import (
    LearnedItems,
    SemanticFeatures,
    best_of,
    combined_scores,
    learned_scores,
    nearest_phrases,
)
from analyzer.grading.rubric import Rubric
from analyzer.grading.text import Normalizer
from analyzer.transcripts.transcript import Turn

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class SpokenSentence:
    """A sentence of the call, with the turn it belongs to."""

    turn: int  # index in transcript.turns
    speaker: str
    text: str
    tokens: tuple[str, ...]


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
        # Items with a model learned from confirmed calls (analyzer.learning.learn): it scores their
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
            key: [exact_chunks(phrases[c], normalizer) for c in cols]
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
            best, phrase = best_of(scores, cols, texts)
            method = ["fuzzy"] * len(sentences)
            if mode == "exact":
                best = self._exact_scores(sentences, self._exact[(kind, key)])
                method = ["exact"] * len(sentences)
            elif mode in ("auto", "semantic") and meaning is not None and cols:
                reads = meaning.embedded
                if of_role is not None:
                    reads = reads & of_role[self._reads[(kind, key)]]
                best, phrase, method = combined_scores(
                    mode, best, phrase, meaning, (kind, key), reads, long & ~reads
                )
                learned = self.learned.get((kind, key)) if self.learned is not None else None
                if learned is not None:
                    best, method = learned_scores(
                        learned, best, method, meaning, (kind, key), reads
                    )
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
        nearest = nearest_phrases(cosine, self._query_columns, self.queries)
        cues = sentence_cues([s.text for s in sentences])
        return SemanticFeatures(
            columns={
                key: feature_columns(
                    best_of(lexical, self._columns[key], self.queries)[0],
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
            [float(any(says_exactly(s.tokens, chunks) for chunks in phrases)) for s in sentences],
            dtype=np.float32,
        )


def _long_enough(sentences: Sequence[SpokenSentence]) -> np.ndarray:
    """Which sentences have enough words to embed (MIN_SEMANTIC_TOKENS)."""
    return np.array([len(s.tokens) >= MIN_SEMANTIC_TOKENS for s in sentences], dtype=bool)


def _extend(phrases: list[str], new: Sequence[str]) -> list[int]:
    start = len(phrases)
    phrases.extend(new)
    return list(range(start, len(phrases)))
