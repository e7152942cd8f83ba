"""Who is the rep? From the user, the call's metadata, the transcript's roles, or inference.

Inference picks the speaker whose sentences best match the rubric's rep phrases, counting against a
speaker the phase triggers they say (triggers are what the *other* party says).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analyzer.errors import RoleError
from analyzer.grading.match import CallMatches
from analyzer.grading.rubric import Rubric
from analyzer.transcripts.transcript import Transcript

INFERENCE_FLOOR = 0.6  # a sentence must score this high against an item to count as evidence


@dataclass(frozen=True)
class RoleDecision:
    rep: str | None  # the rep's speaker name; None only for a call with no turns
    source: str  # option | metadata | transcript | inferred | none
    roles: dict[str, str] = field(default_factory=dict)  # speaker -> rep | customer
    evidence: dict[str, float] = field(default_factory=dict)  # inference score per speaker

    @property
    def inferred(self) -> bool:
        return self.source == "inferred"


def known_roles(transcript: Transcript, rep: str | None = None) -> RoleDecision | None:
    """The roles when the user, the call's metadata or the transcript says who the rep is (or
    the call has nobody); None when they must be inferred from what was said."""
    speakers = transcript.speakers
    if not speakers:
        return RoleDecision(None, "none")
    if rep is not None:
        found = find_speaker(rep, speakers)
        if found is None:
            raise RoleError(
                f"--rep {rep!r} is not a speaker on this call (speakers: {', '.join(speakers)})"
            )
        return _decision(found, "option", speakers)
    for name in [transcript.rep, *participant_reps(transcript.metadata)]:
        found = find_speaker(name, speakers) if name else None
        if found is not None:
            return _decision(found, "metadata", speakers)
    labelled = [t.speaker for t in transcript.turns if t.role == "rep"]
    if labelled:
        return _decision(labelled[0], "transcript", speakers)
    return None


def infer_roles(transcript: Transcript, rubric: Rubric, matches: CallMatches) -> RoleDecision:
    """The rep is the speaker whose sentences best match the rubric's rep items."""
    speakers = transcript.speakers
    if not speakers:
        return RoleDecision(None, "none")
    evidence = infer_rep_scores(speakers, rubric, matches)
    best = max(speakers, key=lambda s: (evidence[s], _words(transcript, s)))
    return RoleDecision(best, "inferred", _roles(best, speakers), evidence)


# Job titles of people who sell, best first, as a transcript's participant list gives them
# ("Sarah (Sales Rep)"). Sales managers and VPs of sales are usually the buyer on such calls.
SELLER_TITLES = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(sales|account) (rep|representative)\b|\b(sdr|bdr|ae)\b|sales development",
        r"\baccount executive\b|\bbusiness development\b",
        r"\baccount manager\b|\bsales engineer\b|\bsolutions? (engineer|consultant)\b",
    )
]


def participant_reps(metadata: dict[str, Any]) -> list[str]:
    """Names from a transcript's participant list whose title says they sell, best first."""
    participants = metadata.get("participants")
    if not isinstance(participants, list):
        return []
    ranked: list[tuple[int, int, str]] = []
    for order, person in enumerate(participants):
        if not isinstance(person, dict) or not person.get("name"):
            continue
        title = str(person.get("description") or "")
        for rank, pattern in enumerate(SELLER_TITLES):
            if pattern.search(title):
                ranked.append((rank, order, str(person["name"])))
                break
    return [name for _, _, name in sorted(ranked)]


def find_speaker(name: str, speakers: list[str]) -> str | None:
    """Match a name to a speaker label: exactly, ignoring case, or by first name."""
    wanted = name.strip().casefold()
    for speaker in speakers:
        if speaker.casefold() == wanted:
            return speaker
    first = wanted.split()[0] if wanted.split() else wanted
    candidates = [s for s in speakers if s.casefold().split()[:1] == [first]]
    return candidates[0] if len(candidates) == 1 else None


def infer_rep_scores(speakers: list[str], rubric: Rubric, matches: CallMatches) -> dict[str, float]:
    """Per speaker: summed best scores of rep items, minus the phase triggers they said."""
    owner = np.array([s.speaker for s in matches.sentences], dtype=object)
    evidence = {}
    for speaker in speakers:
        mine = owner == speaker
        total = 0.0
        for item in rubric.items:
            if item.speaker == "customer" or item.forbidden:
                continue
            scores = matches.item_scores[item.id][mine]
            best = float(scores.max()) if scores.size else 0.0
            total += best if best >= INFERENCE_FLOOR else 0.0
        for phase in rubric.phases:
            scores = matches.trigger_scores[phase.id][mine]
            best = float(scores.max()) if scores.size else 0.0
            total -= best if best >= INFERENCE_FLOOR else 0.0
        evidence[speaker] = round(total, 3)
    return evidence


def _decision(rep: str, source: str, speakers: list[str]) -> RoleDecision:
    return RoleDecision(rep, source, _roles(rep, speakers))


def _roles(rep: str, speakers: list[str]) -> dict[str, str]:
    return {s: ("rep" if s == rep else "customer") for s in speakers}


def _words(transcript: Transcript, speaker: str) -> int:
    return sum(len(t.text.split()) for t in transcript.turns if t.speaker == speaker)
