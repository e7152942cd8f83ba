import numpy as np

from analyzer.grading.lexical import PhraseIndex
from analyzer.grading.match import RubricMatcher
from analyzer.grading.text import get_normalizer
from analyzer.transcripts.transcript import Turn


def score(phrase, said):
    index = PhraseIndex([phrase], get_normalizer())
    sentences = get_normalizer().sentences(said)
    return float(index.score(sentences).max())


def test_asr_errors_and_casual_wording_still_match():
    assert score("This is Alex from Acme Solutions", "hi this is alex with acme solution") >= 0.75
    assert (
        score(
            "Can I speak with the person in charge of purchasing?",
            "could you put me thru to whoever handles purchasing",
        )
        >= 0.75
    )


def test_misheard_words_match_by_spelling():
    assert score("We help teams book more meetings", "we help teams bok more meetins") >= 0.75


def test_unrelated_lines_do_not_match():
    assert score("This is Alex from Acme Solutions", "I love the weather today") < 0.4
    assert score("Can I speak with the person in charge of purchasing?", "purchasing is slow") < 0.6
    assert score("Is now a bad time?", "we had a bad quarter") < 0.6


def test_phrase_words_scattered_across_a_long_sentence_score_low():
    phrase = "What does your current process look like?"
    scattered = (
        "what I can tell you is that our process has a lot going on"
        " and current customers say it looks good"
    )
    assert (
        score(phrase, scattered)
        < score(phrase, "so what does your current process look like") - 0.3
    )


def test_placeholders_stand_for_any_words():
    assert (
        score("This is {name} calling from {company}", "hey this is dana calling from brightline")
        >= 0.9
    )


def test_match_call_scores_each_item_per_sentence(mini_rubric):
    turns = [
        Turn("Alex", "Hello there. Is now a bad time?", 0, 3),
        Turn("Dana", "We're happy with our current provider."),
    ]
    matches = RubricMatcher(mini_rubric, get_normalizer()).match_call(turns)
    assert [(s.turn, s.text) for s in matches.sentences] == [
        (0, "Hello there."),
        (0, "Is now a bad time?"),
        (1, "We're happy with our current provider."),
    ]
    assert np.argmax(matches.item_scores["permission"]) == 1
    assert matches.item_phrase["permission"][1] == "Is now a bad time?"
    assert matches.trigger_scores["pushback"][2] == 1.0
