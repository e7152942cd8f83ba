"""How semantic evidence becomes a score on the grader's scale, as fitted on labelled data.

An embedding model tells what a sentence is about, not what the speaker does with it: "we
scheduled the follow-up last week" sits as close to "can we schedule a follow-up?" as a real
request does, and any question sits fairly close to any other. So a sentence's score for an item
is a logistic model over
- the cosine similarity with the item's phrases;
- the margin by which this item is nearer than every other item and trigger of the rubric (a
  sentence is evidence for the behaviour it is most about);
- three cues about the act: a negation, the past or "already", a statement where the item's
  phrases ask a question;
- in `auto` mode, the lexical (fuzzy) score too, so the words and the meaning are weighed
  together rather than the better of two scores taken.
`tools/calibrate_matching.py` fits both models on real dialogues with human labels (the
development sets in ../shared/dev-data, outside the repository): every sentence a person marked
as doing an item is a positive, every other sentence of that party a negative; the features are
rubric-agnostic, so the fit carries to rubrics it never saw. The threshold and the partial band
are chosen by cross-validated agreement over calls; the cues are sign-constrained (they may only
lower a score). The result is `data/match_calibration.json`. The probability is mapped onto the
grader's scale so that the threshold lands on MET_SCORE.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from analyzer.grading.thresholds import MET_SCORE

SEMANTIC_FEATURES = ("cosine", "margin", "negation", "past", "not_a_question")
AUTO_FEATURES = ("fuzzy", *SEMANTIC_FEATURES)  # auto also weighs the words said
NEAR_SCORE = 0.5  # ...and a probability NEAR_BAND below it maps here (the grader's partial: 0.6)
NEAR_BAND = 0.1  # so only a sentence just short of the threshold can earn partial credit

NEGATION = re.compile(
    r"\b(not|never|no|nobody|nothing|don't|doesn't|didn't|won't|wouldn't|isn't|wasn't|aren't|"
    r"can't|cannot|shouldn't)\b|n't\b",
    re.IGNORECASE,
)
PAST = re.compile(
    r"\b(already|yesterday|ago|last (week|month|time|year|quarter)|earlier today|"
    r"we did|we had|you had|was|were)\b",
    re.IGNORECASE,
)
# A sentence that asks, or puts something forward for the other party to accept: "I could do
# Tuesday at ten", "I've got openings Thursday at two" and "let's pencil in Thursday" ask for a
# meeting as much as "could you do Tuesday?" does.
QUESTION = re.compile(
    r"\?\s*$|^(?:(?:so|and|um|uh|well|okay|ok|hey|hi|right|now|but|then|great|perfect)[,.\s]+)*"
    r"(can|could|would|will|do|does|did|is|are|how|what|when|who|whom|where|which|why|"
    r"should|shall|may|have|has|any|let's|let\s+us|(?:i|we)\s+(?:could|can)\s+"
    r"(?:do|meet|book|pencil|set|grab|hop)|(?:i|we)(?:'ve|\s+have)(?:\s+got)?\s+"
    r"(?:openings?|a\s+slot|slots|time|availability)|(?:i'm|i\s+am|we're|we\s+are)\s+free)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Logistic:
    """p = sigmoid(bias + weights . features); `threshold` is the fitted decision point, and a
    probability within `near_band` below it earns partial credit (fitted too: 0 is none)."""

    weights: tuple[float, ...]
    bias: float
    threshold: float
    features: tuple[str, ...]
    near_band: float = NEAR_BAND

    def probability(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        z = np.full(next(iter(columns.values())).shape, self.bias, dtype=np.float32)
        for name, weight in zip(self.features, self.weights, strict=True):
            z = z + np.float32(weight) * columns[name]
        return 1.0 / (1.0 + np.exp(-z))

    def score(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        """The probability on the grader's scale (`to_grader_scale`)."""
        return to_grader_scale(self.probability(columns), self.threshold, self.near_band)


def to_grader_scale(p: np.ndarray, threshold: float, near_band: float = NEAR_BAND) -> np.ndarray:
    """A probability on the grader's scale, piecewise linear: 0 -> 0, threshold - near_band ->
    NEAR_SCORE, threshold -> MET_SCORE, 1 -> 1. With no band, everything under the threshold
    stays under NEAR_SCORE: the meaning alone gives no partial credit."""
    if near_band <= 0:
        met = MET_SCORE + (1.0 - MET_SCORE) * (p - threshold) / max(1e-6, 1.0 - threshold)
        below = NEAR_SCORE * p / max(threshold, 1e-6)
        return np.where(p >= threshold, met, below).astype(np.float32)
    near = max(threshold - near_band, 1e-6)
    score = np.interp(p, [0.0, near, threshold, 1.0], [0.0, NEAR_SCORE, MET_SCORE, 1.0])
    return score.astype(np.float32)


@dataclass(frozen=True)
class Calibration:
    semantic: Logistic  # `semantic` mode: the embedding and the cues
    auto: Logistic  # `auto` mode: the lexical score as well
    model: str  # the embedding model they were fitted with
    layers: int | None = None  # ...and how many of its transformer layers ran (semantic.LAYERS)


@cache
def load_calibration() -> Calibration:
    text = resources.files("analyzer").joinpath("data/match_calibration.json").read_text()
    data = json.loads(text)

    def logistic(part: dict) -> Logistic:
        return Logistic(
            weights=tuple(float(w) for w in part["weights"]),
            bias=float(part["bias"]),
            threshold=float(part["threshold"]),
            features=tuple(part["features"]),
            near_band=float(part.get("near_band", NEAR_BAND)),
        )

    return Calibration(
        logistic(data["semantic"]), logistic(data["auto"]), data["model"], data.get("layers")
    )


def sentence_cues(texts: list[str]) -> dict[str, np.ndarray]:
    """Per sentence: negation, past, question (1.0 or 0.0)."""
    return {
        "negation": np.array([bool(NEGATION.search(t)) for t in texts], dtype=np.float32),
        "past": np.array([bool(PAST.search(t)) for t in texts], dtype=np.float32),
        "question": np.array([bool(QUESTION.search(t.strip())) for t in texts], dtype=np.float32),
    }


def asks_a_question(phrases: list[str]) -> bool:
    """Whether a behaviour is a question: most of its example phrases end with a question mark.

    Rubric phrases are written, so their punctuation can be trusted (a transcript's cannot: a
    spoken sentence is read by QUESTION). "What I'm hearing is" starts like a question but is a
    recap, and a behaviour phrased both ways ("Best email for you?", "I'll send you an invite")
    is not one whose statements miss the point.
    """
    asked = sum(p.strip().endswith("?") for p in phrases)
    return asked * 2 > len(phrases)


def feature_columns(
    fuzzy: np.ndarray,
    cosine: np.ndarray,
    others: np.ndarray,
    cues: dict[str, np.ndarray],
    question_item: bool,
) -> dict[str, np.ndarray]:
    """The models' inputs for one item over a call's sentences.

    `fuzzy` is each sentence's lexical score against the item's phrases, `cosine` its best
    cosine with them, `others` its best cosine with any other item's or trigger's phrases.
    """
    not_a_question = (1.0 - cues["question"]) if question_item else np.zeros_like(cosine)
    return {
        "fuzzy": fuzzy.astype(np.float32),
        "cosine": cosine.astype(np.float32),
        "margin": (cosine - others).astype(np.float32),
        "negation": cues["negation"],
        "past": cues["past"],
        "not_a_question": not_a_question.astype(np.float32),
    }
