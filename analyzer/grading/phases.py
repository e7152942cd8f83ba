"""Rubric-driven phase segmentation: which part of the script each turn belongs to.

No phase is special here: everything comes from the rubric. An optional phase applies when one of
its triggers is said by someone other than the rep (or, with no triggers, when one of its items is
met). Every turn is then scored against every applicable phase (its items in the matching
speaker's turns, its triggers in the other party's turns), and a Viterbi decoder finds the best
phase sequence under an order prior: phases move forward in rubric order, going back costs more,
and optional phases with triggers (objections, say) may interleave anywhere at a lower cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analyzer.grading.match import CallMatches
from analyzer.grading.rubric import Item, Phase, Rubric
from analyzer.grading.thresholds import MET_SCORE
from analyzer.transcripts.transcript import Turn

EVIDENCE_FLOOR = 0.55  # scores below this are no evidence for a phase
EVIDENCE_GAIN = 3.0  # log-score of a perfect match in a turn
FORWARD_COST = 0.6  # moving on to a later phase
SKIP_COST = 0.3  # per phase skipped on the way
BACK_COST = 4.5  # going back to an earlier phase: more than one strong match gains
INTERLEAVE_COST = 1.0  # entering or leaving a phase that may interleave
START_COST = 0.5  # per phase skipped before the first turn


@dataclass(frozen=True)
class Span:
    first_turn: int
    last_turn: int
    start: float | None
    end: float | None

    def to_dict(self) -> dict[str, object]:
        return {
            "first_turn": self.first_turn,
            "last_turn": self.last_turn,
            "start": self.start,
            "end": self.end,
        }


@dataclass(frozen=True)
class TriggerHit:
    """Why an optional phase was judged to have happened."""

    turn: int
    speaker: str
    text: str
    phrase: str
    score: float


@dataclass
class Segmentation:
    labels: list[str | None]  # phase id of each turn (None: no phase applies at all)
    applies: dict[str, bool]  # phase id -> did it happen on this call
    triggers: dict[str, TriggerHit] = field(default_factory=dict)
    segments: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # runs of turns
    spans: dict[str, Span | None] = field(default_factory=dict)  # first..last turn of the phase

    def phase_of_turn(self, turn: int) -> str | None:
        return self.labels[turn] if 0 <= turn < len(self.labels) else None


def segment_phases(
    turns: list[Turn],
    rubric: Rubric,
    matches: CallMatches,
    roles: dict[str, str],
    met_threshold: float,
) -> Segmentation:
    applies: dict[str, bool] = {}
    triggers: dict[str, TriggerHit] = {}
    for phase in rubric.phases:
        if not phase.optional:
            applies[phase.id] = True
            continue
        hit = _trigger_hit(phase, matches, roles)
        if hit is not None:
            triggers[phase.id] = hit
        applies[phase.id] = hit is not None or (
            not phase.triggers and _any_item_met(phase, matches, roles, met_threshold)
        )
    states = [p for p in rubric.phases if applies[p.id]]
    labels = _decode(turns, states, matches, roles) if states else [None] * len(turns)
    segmentation = Segmentation(labels, applies, triggers)
    for phase in rubric.phases:
        runs = _runs(labels, phase.id)
        segmentation.segments[phase.id] = runs
        segmentation.spans[phase.id] = (
            Span(runs[0][0], runs[-1][1], turns[runs[0][0]].start, turns[runs[-1][1]].end)
            if runs
            else None
        )
    return segmentation


def speaker_fits(item: Item, role: str) -> bool:
    """Is a turn by someone of this role searched for this item?"""
    return item.speaker == "any" or item.speaker == role


def _trigger_hit(phase: Phase, matches: CallMatches, roles: dict[str, str]) -> TriggerHit | None:
    scores = matches.trigger_scores[phase.id]
    best: TriggerHit | None = None
    for k, sentence in enumerate(matches.sentences):
        score = float(scores[k])
        if roles.get(sentence.speaker) == "rep" or score < MET_SCORE:
            continue
        if best is None or score > best.score:
            phrase = matches.trigger_phrase[phase.id][k]
            best = TriggerHit(sentence.turn, sentence.speaker, sentence.text, phrase, score)
    return best


def _any_item_met(
    phase: Phase, matches: CallMatches, roles: dict[str, str], threshold: float
) -> bool:
    for item in phase.items:
        if item.forbidden:
            continue
        scores = matches.item_scores[item.id]
        for k, sentence in enumerate(matches.sentences):
            if scores[k] >= threshold and speaker_fits(item, roles.get(sentence.speaker, "")):
                return True
    return False


def _evidence(
    turns: list[Turn], states: list[Phase], matches: CallMatches, roles: dict[str, str]
) -> np.ndarray:
    """Log-score of each turn belonging to each phase, from its matches: (turns, phases)."""
    strength = np.zeros((len(turns), len(states)), dtype=np.float64)
    if not matches.sentences:
        return strength
    role = np.array([roles.get(s.speaker, "customer") for s in matches.sentences], dtype=object)
    turn_of = np.array([s.turn for s in matches.sentences], dtype=np.int64)
    not_rep = role != "rep"
    for j, phase in enumerate(states):
        best = np.where(not_rep, matches.trigger_scores[phase.id], 0.0)
        for item in phase.items:
            if item.forbidden:
                continue
            scores = matches.item_scores[item.id]
            if item.speaker != "any":
                scores = np.where(role == item.speaker, scores, 0.0)
            best = np.maximum(best, scores)
        np.maximum.at(strength[:, j], turn_of, best)
    return EVIDENCE_GAIN * np.clip((strength - EVIDENCE_FLOOR) / (1 - EVIDENCE_FLOOR), 0, 1)


def _transitions(states: list[Phase]) -> np.ndarray:
    n = len(states)
    cost = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            interleaves = _interleaves(states[i]) or _interleaves(states[j])
            if j > i:
                cost[i, j] = FORWARD_COST + SKIP_COST * (j - i - 1)
                if interleaves:
                    cost[i, j] = min(cost[i, j], INTERLEAVE_COST)
            elif j < i:
                cost[i, j] = INTERLEAVE_COST if interleaves else BACK_COST
    return -cost


def _interleaves(phase: Phase) -> bool:
    return phase.optional and bool(phase.triggers)


def _decode(
    turns: list[Turn], states: list[Phase], matches: CallMatches, roles: dict[str, str]
) -> list[str | None]:
    """Viterbi over turns; states are the applicable phases in rubric order."""
    if not turns:
        return []
    emit = _evidence(turns, states, matches, roles)
    trans = _transitions(states)
    n_turns, n_states = emit.shape
    score = -START_COST * np.arange(n_states) + emit[0]
    back = np.zeros((n_turns, n_states), dtype=np.int64)
    change = 1.0 - np.eye(n_states)
    for t in range(1, n_turns):
        # from i (rows) to j (columns); of two equal paths, the one that changes phase later wins,
        # so a phase lasts until the turn that shows the next one
        candidates = score[:, None] + trans - 1e-6 * (n_turns - t) * change
        back[t] = candidates.argmax(axis=0)
        score = candidates.max(axis=0) + emit[t]
    path = [int(score.argmax())]
    for t in range(n_turns - 1, 0, -1):
        path.append(int(back[t, path[-1]]))
    path.reverse()
    return [states[j].id for j in path]


def _runs(labels: list[str | None], phase_id: str) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for t, label in enumerate(labels):
        if label != phase_id:
            continue
        if runs and runs[-1][1] == t - 1:
            runs[-1] = (runs[-1][0], t)
        else:
            runs.append((t, t))
    return runs
