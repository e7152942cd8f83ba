"""Text normalisation for matching: what a rep said and what the rubric expects, in one form.

spaCy's blank English pipeline gives tokens and sentences (sentencizer); spaCy's lookup tables
(spacy-lookups-data) give lemmas. On top of that, the forms that differ between a script and
casual or misrecognised speech are folded together: case, contractions ("we're" -> "we be"),
numbers ("ten", "10", "10:30" -> one number token), weekdays, fillers ("um", "uh") and a small
lexicon of equivalent sales expressions ("put me through to" = "speak with") kept in
`data/synonyms.txt`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import spacy
from spacy.attrs import IDX, LENGTH, NORM, ORTH, SENT_START
from spacy.lookups import load_lookups

# Words that carry little meaning on their own: matched like any token, weighted low.
FUNCTION_WORDS = frozenset(
    """a an the this that these those it its i me my mine we us our ours you your yours he him
    his she her hers they them their theirs be do have will would can could shall should may
    might must to of in on at by for with from about as into onto over under than then so
    and or but if not no nor yes ok okay oh well just there here what which who whom whose
    when where why how all any some each every very really quite also too up down out off
    again one""".split()
)

# Sounds that are not words: dropped before matching.
FILLERS = frozenset("""um umm ummm uh uhh uhm er erm ah ahh hmm hm mm mmm mhm""".split())

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
    "e-mail": "email",
    "follow-up": "follow up",
    "followup": "follow up",
}

_UNITS = """zero one two three four five six seven eight nine ten eleven
twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen""".split()
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
NUMBER_WORDS = frozenset([*_UNITS, *_TENS, "hundred", "thousand", "million"])

# Classes of words whose exact value does not change the behaviour: "Thursday at ten" and
# "Tuesday at two" both propose a time.
WORD_CLASSES = {
    day: "~weekday"
    for day in ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
} | {"tomorrow": "~weekday", "morning": "~daypart", "afternoon": "~daypart", "evening": "~daypart"}
NUMBER = "~number"
_NUMERIC = re.compile(r"^\d+(?:[.,:]\d+)*(?:am|pm|k|%)?$")

PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_WORDLIKE = re.compile(r"\w")

# spaCy's tokenizer takes time quadratic (and worse) in the length of a run of characters without
# a space, most of all a run of punctuation (brackets, quotes): 400 KB of "AAAA:" took minutes.
# No such run is a word a rubric could match, so spaCy sees each one masked as "~~~~" (one token
# of the same length, which folds to nothing; the sentence's text keeps what was said).
MAX_WORD = 64  # characters of a run without spaces that spaCy sees as it is (longer than words,
# e-mail addresses and hyphenated compounds)
MAX_MARKS = 8  # characters of a run of punctuation and symbols ("?!?!", "...") seen as it is
_LONG_RUN = re.compile(rf"\S{{{MAX_WORD + 1},}}+|[^\s\w]{{{MAX_MARKS + 1},}}+")
# spaCy refuses a text over its max_length (1,000,000 characters), and a call's turns are joined
# into one document: texts go to spaCy in documents of at most this many characters.
DOC_CHARS = 200_000


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
        self._lemmas = load_lookups("en", ["lemma_lookup"]).get_table("lemma_lookup")
        self._cache: dict[str, str] = {}  # word -> lemma
        self._folded: dict[tuple[int, int], str] = {}  # (orth, norm) hashes -> matching form
        self._synonyms = _SynonymTable(self, _read_synonyms())

    def sentences(self, text: str) -> list[Sentence]:
        """Split text into sentences, each with its normalised tokens (empty ones dropped)."""
        return self.sentences_of([text])[0]

    def sentences_of(self, texts: Sequence[str]) -> list[list[Sentence]]:
        """`sentences` for many texts (a call's turns) in a few spaCy passes.

        The texts are joined into documents of up to DOC_CHARS characters (spaCy's cost per
        document is most of the cost of a short turn) and split back by character offset; a
        sentence never crosses a text (nor, in a text over DOC_CHARS, a piece of it).
        """
        out: list[list[Sentence]] = [[] for _ in texts]
        for owners, pieces in _documents(texts):
            for owner, found in zip(owners, self._sentences_of_document(pieces), strict=True):
                out[owner].extend(found)
        return out

    def _sentences_of_document(self, texts: list[str]) -> list[list[Sentence]]:
        """`sentences_of` for texts that fit in one spaCy document together (DOC_CHARS)."""
        joined = "\n".join(texts)
        bounds = []  # where each text starts in `joined`
        at = 0
        for text in texts:
            bounds.append(at)
            at += len(text) + 1
        bounds.append(at)
        out: list[list[Sentence]] = [[] for _ in texts]
        doc = self.nlp(mask_long_runs(joined))
        if not len(doc):
            return out
        current, words, first, last = 0, [], 0, 0
        for orth, norm, sent_start, idx, length in doc.to_array(
            [ORTH, NORM, SENT_START, IDX, LENGTH]
        ).tolist():
            if idx >= bounds[current + 1]:  # the token is in a later text
                self._flush(out[current], joined[first:last], words)
                while idx >= bounds[current + 1]:
                    current += 1
                words, first = [], idx
            elif sent_start == 1 and idx > first:
                self._flush(out[current], joined[first:last], words)
                words, first = [], idx
            words.append(self._fold_hashes(orth, norm))
            last = idx + length
        self._flush(out[current], joined[first:last], words)
        return out

    def _flush(self, out: list[Sentence], text: str, words: list[str]) -> None:
        tokens = self._synonyms.fold(words)
        if tokens:
            out.append(Sentence(text.strip(), tuple(tokens)))

    def _fold_hashes(self, orth: int, norm: int) -> str:
        folded = self._folded.get((orth, norm))
        if folded is None:
            strings = self.nlp.vocab.strings
            folded = self._fold_tokens(strings[orth], strings[norm])
            if len(self._folded) < 500_000:
                self._folded[(orth, norm)] = folded
        return folded

    def tokens(self, text: str) -> tuple[str, ...]:
        """Normalised tokens of a phrase, placeholders such as `{name}` removed."""
        return tuple(self._synonyms.fold(self._raw_tokens(PLACEHOLDER.sub(" ", text))))

    def _raw_tokens(self, text: str) -> list[str]:
        return [
            self._fold_tokens(tok.text, tok.norm_)
            for piece in _pieces(text)
            for tok in self.nlp.make_doc(mask_long_runs(piece))
        ]

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
        by_first: dict[str, dict[tuple[str, ...], str]] = {}
        for concept, variants in groups.items():
            for variant in variants:
                key = tuple(w for t in normalizer._raw_tokens(variant) for w in t.split() if w)
                if key:
                    by_first.setdefault(key[0], {})[key] = concept
        # for each first word: its expressions, longest first
        self._index = {
            first: sorted(keys.items(), key=lambda kv: -len(kv[0]))
            for first, keys in by_first.items()
        }

    def fold(self, raw: Iterable[str]) -> list[str]:
        words: list[str] = []
        for token in raw:  # a folded token may stand for two words ("gonna" -> "go to")
            if " " in token:
                words.extend(token.split())
            elif token:
                words.append(token)
        out: list[str] = []
        i = 0
        while i < len(words):
            word = words[i]
            for key, concept in self._index.get(word, ()):
                if tuple(words[i : i + len(key)]) == key:
                    out.append(concept)
                    i += len(key)
                    break
            else:
                if not (word == NUMBER and out and out[-1] == NUMBER):
                    out.append(word)  # "thirty four" is one number
                i += 1
        return out


def mask_long_runs(text: str) -> str:
    """text with each run spaCy tokenizes slowly (MAX_WORD, MAX_MARKS) as "~" of its length."""
    return _LONG_RUN.sub(lambda run: "~" * len(run[0]), text)


def _pieces(text: str) -> list[str]:
    """text cut into pieces of at most DOC_CHARS characters: after a sentence end where there
    is one (in the piece's second half), else at a space, else anywhere."""
    pieces = []
    while len(text) > DOC_CHARS:
        low = DOC_CHARS // 2
        cut = max(text.rfind(end, low, DOC_CHARS) for end in (". ", "? ", "! "))
        cut = cut + 2 if cut >= 0 else text.rfind(" ", low, DOC_CHARS) + 1
        cut = cut or DOC_CHARS
        pieces.append(text[:cut])
        text = text[cut:]
    pieces.append(text)
    return pieces


def _documents(texts: Sequence[str]) -> Iterator[tuple[list[int], list[str]]]:
    """The texts (cut into pieces when long) in groups that join to at most DOC_CHARS
    characters: for each group, the index of the text each piece is from, and the pieces."""
    owners: list[int] = []
    pieces: list[str] = []
    size = 0
    for owner, text in enumerate(texts):
        for piece in _pieces(text):
            if pieces and size + len(piece) > DOC_CHARS:
                yield owners, pieces
                owners, pieces, size = [], [], 0
            owners.append(owner)
            pieces.append(piece)
            size += len(piece) + 1
    if pieces:
        yield owners, pieces


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
