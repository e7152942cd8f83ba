from analyzer.grading.text import get_normalizer


def tokens(text):
    return get_normalizer().tokens(text)


def test_case_punctuation_and_lemmas_fold():
    assert tokens("This is Alex from Acme Solutions!") == (
        "this",
        "be",
        "alex",
        "from",
        "acme",
        "solution",
    )


def test_contractions_and_casual_spellings():
    assert tokens("We're gonna call ya") == ("we", "be", "go", "to", "call", "you")
    assert tokens("I don't know") == ("i", "do", "not", "know")
    assert tokens("put me thru") == tokens("put me through")


def test_fillers_are_dropped():
    assert tokens("um so uh we, erm, book it") == tokens("so we book it")


def test_numbers_and_weekdays_fold_to_classes():
    assert tokens("Thursday at ten") == tokens("Monday at 2:30")
    assert tokens("thirty four licenses") == tokens("34 licenses")


def test_placeholders_are_removed_from_phrases():
    assert tokens("This is {name} calling from {company}") == ("this", "be", "call", "from")


def test_equivalent_expressions_fold_to_one_concept():
    assert tokens("could you put me thru to whoever handles purchasing") == (
        "can",
        "you",
        "~talk_to",
        "~person_responsible",
        "purchase",
    )
    assert tokens("Can I speak with the person in charge of purchasing?")[2:] == (
        "~talk_to",
        "~person_responsible",
        "purchase",
    )


def test_sentences_keep_original_text():
    sentences = get_normalizer().sentences("Hi there. Is now a bad time? Um.")
    assert [s.text for s in sentences] == ["Hi there.", "Is now a bad time?"]
    assert sentences[1].tokens == ("be", "now", "~good_time")
