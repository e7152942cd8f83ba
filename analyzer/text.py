"""Text normalisation for matching: what a rep said and what the rubric expects, in one form.

spaCy's blank English pipeline gives tokens and sentences (sentencizer); spaCy's lookup tables
(spacy-lookups-data) give lemmas. On top of that, the forms that differ between a script and
casual or misrecognised speech are folded together: case, contractions ("we're" -> "we be"),
numbers ("ten", "10", "10:30" -> one number token), weekdays, fillers ("um", "uh") and a small lexicon of equivalent sales
expressions ("put me through to" = "speak with") kept in `data/synonyms.txt`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import spacy

# Words that carry little meaning on their own: matched like any token, weighted low.
FUNCTION_WORDS = frozenset(
    """a an the this that these those it its i me my mine we us our ours you your yours he him his
    she her hers they them their theirs be do have will would can could shall should may might must
    to of in on at by for with from about as into onto over under than then so and or but if not no
    nor yes ok okay oh well just there here what which who whom whose when where why how all any
    some each every very really quite also too up down out off again one""".split()
)

# Sounds that are not words: dropped before matching.
FILLERS = frozenset("um umm ummm uh uhh uhm er erm ah ahh hmm hm mm mmm mhm".split())

# Spellings casual speech and ASR produce, folded before lemmatising.
SPELLINGS = {
    "thru": "through",
    "ya": "you",
    "yeah": "yes",
    "yep": "yes",
    "yup": "yes",
    "nope": "no",
    "gonna": "going to",
    "wanna": "want to",
    "gotta": "have to",
    "kinda": "kind of",
    "sorta": "sort of",
    "lemme": "let me",
    "gimme": "give me",
    "dunno": "do not know",
    "cuz": "because",
    "cos": "because",
    "coz": "because",
    "ok": "okay",
    "alright": "all right",
    "email": "email",
    "e-mail": "email",
    "follow-up": "follow up",
    "followup": "follow up",
}

_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen \
fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
NUMBER_WORDS = {word: n for n, word in enumerate(_UNITS)} | {
    word: 20 + 10 * n for n, word in enumerate(_TENS)
}
NUMBER_WORDS |= {"hundred": 100, "thousand": 1000, "million": 1000000}

# Classes of words whose exact value does not change the behaviour: "Thursday at ten" and
# "Tuesday at two" both propose a time.
WORD_CLASSES = {
    day: "~weekday"
    for day in "monday tuesday wednesday thursday friday saturday sunday".split()
} | {"tomorrow": "~weekday", "morning": "~daypart", "afternoon": "~daypart", "evening": "~daypart"}
NUMBER = "~number"
_NUMERIC = re.compile(r"^\d+(?:[.,:]\d+)*(?:am|pm|k|%)?$")

PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_WORDLIKE = re.compile(r"\w")


@dataclass(frozen=True)
class Sentence:
    """A sentence of a turn: the words as said, and their normalised tokens."""

    text: str
    tokens: tuple[str, ...]


class Normalizer:
    """spaCy tokenizer + sentencizer + lookup lemmas + the folds described above."""

    def __init__(self) -> None:
        self.nlp = spacy.blank("en")
        self.nlp.add_pipe("sentencizer")
        lemmatizer = self.nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        self.nlp.initialize()
        self._cache: dict[str, str] = {}
        self._lemmas = lemmatizer.lookups.get_table("lemma_lookup")
        self._synonyms = _SynonymTable(self, _read_synonyms())

    def sentences(self, text: str) -> list[Sentence]:
        """Split text into sentences, each with its normalised tokens (empty ones dropped)."""
        doc = self.nlp(text)
        out = []
        for sent in doc.sents:
            tokens = self._synonyms.fold(self._fold_tokens(tok.text, tok.norm_) for tok in sent)
            if tokens:
                out.append(Sentence(sent.text.strip(), tuple(tokens)))
        return out

    def tokens(self, text: str) -> tuple[str, ...]:
        """Normalised tokens of a phrase, placeholders such as `{name}` removed."""
        return self.tokens_keeping_placeholders(PLACEHOLDER.sub(" ", text))

    def tokens_keeping_placeholders(self, text: str) -> tuple[str, ...]:
        raw = self._raw_tokens(text)
        return tuple(self._synonyms.fold(raw))

    def _raw_tokens(self, text: str) -> list[str]:
        doc = self.nlp.make_doc(text)
        return list(self._fold_tokens(tok.text, tok.norm_) for tok in doc)

    def _fold_tokens(self, text: str, norm: str) -> str:
        """One spaCy token -> its matching form ('' for punctuation and fillers)."""
        lower = text.lower()
        if not _WORDLIKE.search(lower) or lower in FILLERS:
            return ""
        if lower in SPELLINGS:
            return " ".join(self._lemma(w) for w in SPELLINGS[lower].split())
        if norm and norm != lower and _WORDLIKE.search(norm):
            lower = norm.lower()  # contractions: "'re" -> "are", "n't" -> "not", "gon" -> "going"
        if lower in NUMBER_WORDS or _NUMERIC.match(lower):
            return NUMBER
        if lower in WORD_CLASSES:
            return WORD_CLASSES[lower]
        return self._lemma(lower)

    def _lemma(self, word: str) -> str:
        lemma = self._cache.get(word)
        if lemma is None:
            lemma = self._cache[word] = str(self._lemmas.get(word, word)).lower()
        return lemma


class _SynonymTable:
    """Multi-word expressions folded into one concept token, longest match first."""

    def __init__(self, normalizer: Normalizer, groups: dict[str, list[str]]) -> None:
        self._index: dict[tuple[str, ...], str] = {}
        for concept, variants in groups.items():
            for variant in variants:
                key = tuple(
                    w for t in normalizer._raw_tokens(variant) for w in t.split() if w
                )
                if key:
                    self._index[key] = concept
        self._longest = max((len(k) for k in self._index), default=0)

    def fold(self, raw: object) -> list[str]:
        words = [w for token in raw for w in token.split() if w]  # type: ignore[attr-defined]
        out: list[str] = []
        i = 0
        while i < len(words):
            for size in range(min(self._longest, len(words) - i), 0, -1):
                concept = self._index.get(tuple(words[i : i + size]))
                if concept is not None:
                    out.append(concept)
                    i += size
                    break
            else:
                if not (words[i] == NUMBER and out and out[-1] == NUMBER):
                    out.append(words[i])  # "thirty four" is one number
                i += 1
        return [w for w in out if w]



def _read_synonyms() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    text = resources.files("analyzer").joinpath("data/synonyms.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        concept, _, variants = line.partition(":")
        groups.setdefault("~" + concept.strip(), []).extend(
            v.strip() for v in variants.split("|") if v.strip()
        )
    return groups


def is_function_word(token: str) -> bool:
    return token in FUNCTION_WORDS


@lru_cache(maxsize=1)
def get_normalizer() -> Normalizer:
    """The shared normaliser (building the spaCy pipeline takes a few hundred ms)."""
    return Normalizer()
