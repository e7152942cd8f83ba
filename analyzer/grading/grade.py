"""Items -> phase scores -> a suggested grade out of 100, with the evidence for every point.

`Grader(rubric).grade(transcript)` runs the whole engine: sentences are matched against the
rubric, the rep is decided, the call is split into phases, each item is judged in its phase
(a match elsewhere still counts and is marked), and the earned points are rescaled to 100 over the
phases that applied. The output shape is the grade contract in DESIGN.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analyzer import __version__
from analyzer.errors import ModelError
from analyzer.grading.examples import SentenceInputs
from analyzer.grading.learned import Learned, check_model
from analyzer.grading.match import CallMatches, RubricMatcher, SpokenSentence
from analyzer.grading.phases import Segmentation, Span, TriggerHit, segment_phases
from analyzer.grading.roles import RoleDecision, infer_roles, known_roles
from analyzer.grading.rubric import PARTIAL_CREDIT, Item, Phase, Rubric
from analyzer.grading.text import get_normalizer
from analyzer.grading.thresholds import MET_SCORE, PARTIAL_SCORE
from analyzer.transcripts.transcript import Transcript

CONFIDENCE_SPAN = 0.25  # score distance from a threshold at which confidence reaches 1
LOW_CONFIDENCE = 0.6  # item confidence below this flags the call for a human look
CLOSEST_FLOOR = 0.5  # a missed item shows its closest sentence when it scored at least this
TOO_SHORT_SECONDS = 30.0  # calls shorter than this are flagged too_short
TOO_SHORT_TURNS = 4  # ...and so are calls with fewer turns

FLAGS = (
    "below_pass_mark",
    "critical_missed",
    "forbidden_said",
    "low_confidence",
    "roles_inferred",
    "too_short",
    "no_speech",
    "single_speaker",
)


@dataclass(frozen=True)
class Evidence:
    """A sentence that decided an item, and where it was said."""

    turn: int
    start: float | None
    end: float | None
    speaker: str
    text: str
    phrase: str
    score: float
    method: str
    in_phase: bool  # said inside the item's phase span

    def to_dict(self) -> dict[str, Any]:
        return {
            "turn": self.turn,
            "start": self.start,
            "end": self.end,
            "speaker": self.speaker,
            "text": self.text,
            "phrase": self.phrase,
            "score": round(self.score, 3),
            "method": self.method,
            "in_phase": self.in_phase,
        }


@dataclass
class ItemResult:
    id: str
    text: str
    status: str  # met | partial | missed | na
    points: float
    earned: float
    confidence: float
    critical: bool = False
    forbidden: bool = False
    evidence: list[Evidence] = field(default_factory=list)
    closest: Evidence | None = None  # for a missed item: the nearest thing said

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "text": self.text,
            "status": self.status,
            "points": self.points,
            "earned": round(self.earned, 2),
            "confidence": round(self.confidence, 2),
            "critical": self.critical,
            "forbidden": self.forbidden,
            "evidence": [e.to_dict() for e in self.evidence],
        }
        if self.closest is not None:
            data["closest"] = self.closest.to_dict()
        return data


@dataclass
class PhaseResult:
    id: str
    title: str
    status: str  # scored | na
    weight: float
    earned: float
    span: Span | None
    segments: list[tuple[int, int]]
    items: list[ItemResult]
    trigger: TriggerHit | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "weight": self.weight,
            "earned": round(self.earned, 2),
            "span": self.span.to_dict() if self.span else None,
            "segments": [list(s) for s in self.segments],
            "items": [i.to_dict() for i in self.items],
        }
        if self.trigger is not None:
            t = self.trigger
            data["trigger"] = {
                "turn": t.turn,
                "speaker": t.speaker,
                "text": t.text,
                "phrase": t.phrase,
                "score": round(t.score, 3),
            }
        return data


@dataclass
class Grade:
    call_id: str
    rubric: str
    rubric_version: int | str
    grade: float
    passed: bool
    flags: list[str]
    pass_mark: float
    rep: str | None
    rep_source: str
    roles: dict[str, str]
    phases: list[PhaseResult]
    duration: float | None
    turns: int
    started_at: str | None = None
    matcher: str = "fuzzy"  # how phrases were matched (RubricMatcher.description)

    def to_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "rubric": self.rubric,
            "rubric_version": self.rubric_version,
            "grade": self.grade,
            "passed": self.passed,
            "flags": self.flags,
            "pass_mark": self.pass_mark,
            "rep": self.rep,
            "rep_source": self.rep_source,
            "roles": self.roles,
            "started_at": self.started_at,
            "duration": self.duration,
            "turns": self.turns,
            "engine": {"version": __version__, "matcher": self.matcher},
            "phases": [p.to_dict() for p in self.phases],
        }


class Grader:
    """Grades calls against one rubric. Build once, grade many calls."""

    def __init__(self, rubric: Rubric, learned: Learned | None = None) -> None:
        """`learned`: item models from `analyzer learn` (load_learned), which score their items
        in place of the zero-shot calibration."""
        self.rubric = rubric
        self.learned = learned
        self.matcher = RubricMatcher(rubric, get_normalizer(), learned)
        if learned is not None:
            if self.matcher.semantic is None:
                raise ModelError(
                    f"{learned.path}: grading with a learned file needs the sentence-embedding "
                    "model (the semantic extra)"
                )
            check_model(learned, self.matcher.semantic.embedder.name)
            self.matcher.description += f"; {learned.description}"

    def _roles_and_matches(
        self, transcript: Transcript, rep: str | None
    ) -> tuple[RoleDecision, CallMatches]:
        # Who the rep is comes first: a semantic item reads the meaning of its own party's
        # sentences only. When the call does not say, the rep is inferred from every speaker's
        # scores, then those are re-read with the roles (sentences, words and embeddings kept).
        decision = known_roles(transcript, rep)
        if decision is None:
            everyone = self.matcher.match_call(transcript.turns)
            decision = infer_roles(transcript, self.rubric, everyone)
            return decision, self.matcher.rematch(everyone, decision.roles)
        return decision, self.matcher.match_call(transcript.turns, decision.roles)

    def sentence_inputs(
        self,
        transcript: Transcript,
        rep: str | None = None,
        roles: dict[str, str] | None = None,
    ) -> SentenceInputs:
        """What learning reads of a call: its sentences' turns, roles, embeddings and each
        item's zero-shot features (the roles decided as grading decides them, unless given)."""
        if roles is None:  # matched only when the rep has to be inferred
            decision = known_roles(transcript, rep) or self._roles_and_matches(transcript, rep)[0]
            roles = decision.roles
        sentences = self.matcher.split(transcript.turns)
        role = np.array([roles.get(s.speaker, "customer") for s in sentences], dtype=object)
        meaning = self.matcher.semantic_features(sentences)
        if meaning is None or meaning.vectors is None:
            raise ModelError("learning needs the sentence-embedding model (the semantic extra)")
        return SentenceInputs(
            turns=np.array([s.turn for s in sentences], dtype=np.int64),
            roles=role,
            embedded=meaning.embedded,
            vectors=meaning.vectors,
            columns={
                key: columns for (kind, key), columns in meaning.columns.items() if kind == "item"
            },
        )

    def grade(self, transcript: Transcript, rep: str | None = None) -> Grade:
        turns = transcript.turns
        decision, matches = self._roles_and_matches(transcript, rep)
        segmentation = segment_phases(turns, self.rubric, matches, decision.roles, MET_SCORE)
        roles = np.array(
            [decision.roles.get(s.speaker, "customer") for s in matches.sentences], dtype=object
        )
        labels = np.array(
            [segmentation.phase_of_turn(s.turn) for s in matches.sentences], dtype=object
        )
        phases = [
            self._grade_phase(phase, transcript, matches, segmentation, roles, labels)
            for phase in self.rubric.phases
        ]
        grade = _assemble(transcript, self.rubric, decision, phases, bool(matches.sentences))
        grade.matcher = self.matcher.description
        return grade

    def _grade_phase(
        self,
        phase: Phase,
        transcript: Transcript,
        matches: CallMatches,
        segmentation: Segmentation,
        roles: np.ndarray,
        labels: np.ndarray,
    ) -> PhaseResult:
        applies = segmentation.applies[phase.id]
        items = [
            _grade_item(item, phase, transcript, matches, roles, labels)
            if applies
            else ItemResult(
                item.id, item.text, "na", item.points, 0.0, 1.0, item.critical, item.forbidden
            )
            for item in phase.items
        ]
        return PhaseResult(
            id=phase.id,
            title=phase.label,
            status="scored" if applies else "na",
            weight=phase.weight,
            earned=sum(i.earned for i in items),
            span=segmentation.spans[phase.id],
            segments=segmentation.segments[phase.id],
            items=items,
            trigger=segmentation.triggers.get(phase.id),
        )


def grade_call(
    transcript: Transcript, rubric: Rubric, rep: str | None = None, learned: Learned | None = None
) -> Grade:
    """Grade one call (for many calls, build a `Grader` once and reuse it)."""
    return Grader(rubric, learned).grade(transcript, rep)


def _grade_item(
    item: Item,
    phase: Phase,
    transcript: Transcript,
    matches: CallMatches,
    sentence_roles: np.ndarray,
    sentence_phases: np.ndarray,
) -> ItemResult:
    scores = matches.item_scores[item.id]
    phrases = matches.item_phrase[item.id]
    fits = (
        np.ones(len(scores), dtype=bool)
        if item.speaker == "any"
        else sentence_roles == item.speaker
    )
    in_phase = sentence_phases == phase.id
    # (in phase, score, sentence index), best first; among matches, those inside the phase first
    candidates = [
        (bool(in_phase[k]), float(scores[k]), int(k))
        for k in np.nonzero(fits & (scores >= CLOSEST_FLOOR))[0]
    ]
    candidates.sort(key=lambda c: (c[1] >= MET_SCORE, c[0], c[1]), reverse=True)
    hits = [c for c in candidates if c[1] >= MET_SCORE]
    near = [c for c in candidates if c[1] < MET_SCORE]
    best_near = max((c[1] for c in near), default=0.0)
    if not near and len(hits) < int(fits.sum()):  # sentences below the floor still bound "near"
        below = scores[fits & (scores < CLOSEST_FLOOR)]
        best_near = float(below.max()) if below.size else 0.0

    def evidence(c: tuple[bool, float, int]) -> Evidence:
        method = matches.item_method[item.id][c[2]] if item.id in matches.item_method else "fuzzy"
        return _evidence(matches.sentences[c[2]], phrases[c[2]], c[1], c[0], transcript, method)

    result = ItemResult(
        item.id, item.text, "missed", item.points, 0.0, 1.0, item.critical, item.forbidden
    )
    if item.forbidden:
        if hits:
            result.evidence = [evidence(c) for c in hits]
            result.confidence = _confidence(hits[0][1], (MET_SCORE,))
        else:
            result.status, result.earned = "met", item.points
            result.confidence = _confidence(best_near, (MET_SCORE,))
        return result

    if len(hits) >= item.min_count:
        result.status, result.earned = "met", item.points
        chosen = sorted(hits[: item.min_count], key=lambda c: c[2])  # shown in call order
        result.evidence = [evidence(c) for c in chosen]
        decisive = sorted((c[1] for c in hits), reverse=True)[item.min_count - 1]
    elif hits:
        result.status = "partial"
        result.earned = item.points * len(hits) / item.min_count
        result.evidence = [evidence(c) for c in sorted(hits, key=lambda c: c[2])]
        decisive = best_near
    elif best_near >= PARTIAL_SCORE:
        result.status, result.earned = "partial", item.points * PARTIAL_CREDIT
        result.evidence = [evidence(max(near, key=lambda c: c[1]))]
        decisive = best_near
    else:
        decisive = best_near
        if best_near >= CLOSEST_FLOOR:
            result.closest = evidence(max(near, key=lambda c: c[1]))
    result.confidence = _confidence(decisive, (MET_SCORE, PARTIAL_SCORE))
    return result


def _uncertain_outcome(
    scored: list[PhaseResult], grade: float, weight: float, pass_mark: float
) -> bool:
    """Could decisions close to their thresholds change the outcome a manager acts on?

    True when the uncertain items, each moved by half its points, could carry the grade across
    the pass mark, or when an uncertain critical item decides a call that could otherwise pass.
    """
    uncertain = [i for p in scored for i in p.items if i.confidence < LOW_CONFIDENCE]
    if not uncertain:
        return False
    swing = 100.0 * sum(PARTIAL_CREDIT * i.points for i in uncertain) / weight if weight else 0.0
    if any(i.critical for i in uncertain) and grade + swing >= pass_mark:
        return True
    return abs(grade - pass_mark) <= swing


def _confidence(score: float, thresholds: tuple[float, ...]) -> float:
    """0.5 right at a threshold, rising to 1 a CONFIDENCE_SPAN away from every threshold."""
    margin = min(abs(score - t) for t in thresholds)
    return 0.5 + 0.5 * min(1.0, margin / CONFIDENCE_SPAN)


def _evidence(
    sentence: SpokenSentence,
    phrase: str,
    score: float,
    in_phase: bool,
    transcript: Transcript,
    method: str,
) -> Evidence:
    turn = transcript.turns[sentence.turn]
    return Evidence(
        turn=sentence.turn,
        start=turn.start,
        end=turn.end,
        speaker=turn.speaker,
        text=sentence.text,
        phrase=phrase,
        score=score,
        method=method,
        in_phase=in_phase,
    )


def _assemble(
    transcript: Transcript,
    rubric: Rubric,
    decision: RoleDecision,
    phases: list[PhaseResult],
    has_speech: bool,
) -> Grade:
    scored = [p for p in phases if p.status == "scored"]
    weight = sum(p.weight for p in scored)
    earned = sum(p.earned for p in scored)
    grade = round(100.0 * earned / weight, 1) if weight and has_speech else 0.0
    critical_missed = any(i.critical and i.status == "missed" for p in scored for i in p.items)
    # A forbidden item is "missed" exactly when its line was said: worth a look whatever the total.
    forbidden_said = any(i.forbidden and i.status == "missed" for p in scored for i in p.items)
    flags = set()
    if grade < rubric.pass_mark:
        flags.add("below_pass_mark")
    if critical_missed:
        flags.add("critical_missed")
    if forbidden_said:
        flags.add("forbidden_said")
    if _uncertain_outcome(scored, grade, weight, rubric.pass_mark):
        flags.add("low_confidence")
    if decision.inferred:
        flags.add("roles_inferred")
    if not has_speech:
        flags.add("no_speech")
    duration = transcript.span_seconds
    words = [t for t in transcript.turns if t.text.strip()]
    if has_speech and (
        len(words) < TOO_SHORT_TURNS or (duration is not None and duration < TOO_SHORT_SECONDS)
    ):
        flags.add("too_short")
    if len(transcript.speakers) == 1:
        flags.add("single_speaker")
    return Grade(
        call_id=transcript.call_id,
        rubric=rubric.rubric,
        rubric_version=rubric.version,
        grade=grade,
        passed=grade >= rubric.pass_mark and not critical_missed and has_speech,
        flags=[f for f in FLAGS if f in flags],
        pass_mark=rubric.pass_mark,
        rep=decision.rep,
        rep_source=decision.source,
        roles=decision.roles,
        phases=phases,
        duration=duration,
        turns=len(transcript.turns),
        started_at=transcript.started_at,
    )
