"""Near-twins by meaning as well as by words (real MiniLM, offline): reworded questions are flagged when a batch
arrives, never straddle train and eval in a split or a build, and are found as leaks; the same template with
other values ("2 cups flour" / "2 cups sugar") is none of these."""
from __future__ import annotations

import json

import pytest

from tools.dataset.build import build_dataset
from tools.dataset.dedup import grams_of
from tools.dataset.leaks import Leak, find_leaks
from tools.dataset.meaning import MEANING_THRESHOLD, embed, is_twin, meaning_pairs, words_alike
from tools.dataset.row_keys import keyed, sample_grams_of
from tools.dataset.schema import AlpacaSample
from tools.dataset.split import twin_labels
from tools.dataset.values import same_values, values_of, word_key
from tools.generation.project_dataset import import_for_review
from tools.generation.store import ReviewStore

TASK = "Convert this US recipe quantity to metric."
# (question, answer): rows of one task, none a twin of another
DISTINCT = [("2 cups flour", "250 g"), ("3 cups sugar", "600 g"), ("1 tablespoon honey", "21 g"),
            ("4 ounces cheddar", "113 g"), ("1/3 cup olive oil", "80 ml"), ("2 sticks butter", "226 g"),
            ("5 teaspoons salt", "30 g"), ("6 cups chicken stock", "1.4 l"), ("1 pint heavy cream", "473 ml"),
            ("3/4 cup brown sugar", "150 g"), ("8 ounces cream cheese", "227 g"), ("2 quarts water", "1.9 l"),
            ("1 pound ground beef", "454 g"), ("3 tablespoons soy sauce", "45 ml"), ("7 cups popcorn", "56 g"),
            ("2/3 cup raisins", "100 g"), ("9 ounces spinach", "255 g"), ("1 gallon milk", "3.8 l")]
# (one wording, another wording, answer): the same question reworded
REWORDED = [("1 1/2 cups of rice", "1 1/2 cups rice", "280 g"),
            ("2 teaspoons of baking soda", "two teaspoons baking soda", "9 g"),
            ("8 ounces of butter, softened", "softened, 8 oz butter", "227 g"),
            ("half a cup of walnuts, chopped", "half a cup of chopped walnuts", "60 g"),
            ("12 fluid ounces of beer", "12 fl oz beer", "355 ml")]
# (a training question, the same template with another value)
OTHER_VALUES = [("2 cups flour", "2 cups sugar"), ("2 cups flour", "3 cups flour"),
                ("1 1/2 cups of rice", "2 1/2 cups of rice"), ("1 1/2 cups of rice", "1 1/2 cups of oats"),
                ("Convert 5 cups of flour to grams", "Convert 5 cups of sugar to grams")]


def sample(question: str, answer: str) -> AlpacaSample:
    return AlpacaSample(instruction=TASK, input=question, output=answer)


def twins(a: str, b: str) -> bool:
    va, vb = embed([a, b])
    return is_twin(values_of(a), values_of(b), float(va @ vb))


def test_rewordings_are_twins_and_other_values_are_not():
    for a, b, _ in REWORDED:
        assert twins(a, b), (a, b)
    for a, b in [("Convert 2 cups of flour to grams", "How many grams is 2 cups of flour?"),  # reworded
                 ("The food was cold but the staff were friendly", "The staff were friendly but the food was cold"),
                 ("Please convert 8 ounces of butter to grams", "Convert 8 oz of butter into grams")]:
        assert twins(a, b), (a, b)
    for a, b in [*OTHER_VALUES, ("2 cups flour", "3 cups sugar"), ("Normalise the date 3 March 2021",
                                                                      "Normalise the date 3 May 2021"),
                 ("Route this ticket: I cannot log in", "Route this ticket: I cannot log out"),
                 ("How long should I boil 2 eggs for soft yolks?", "How long should I boil 2 eggs for hard yolks?")]:
        assert not twins(a, b), (a, b)


def test_the_cosine_alone_cannot_tell_rewordings_from_other_values_the_values_check_can():
    # why the rule is cosine AND same values: these different questions sit above the threshold
    for a, b in [("1 1/2 cups of rice", "2 1/2 cups of rice"), ("Normalise the date 3 March 2021",
                                                                 "Normalise the date 3 May 2021")]:
        va, vb = embed([a, b])
        assert float(va @ vb) >= MEANING_THRESHOLD
        assert not same_values(values_of(a), values_of(b), words_alike)


def test_the_measured_fixture_keeps_its_table():
    """bench/bench_twins.py's table at the chosen threshold: 25 of 26 rewordings found, 3 of 31 other-value
    pairs taken for twins (an added field, a dropped 'twice', a unit swap: see the README)."""
    from pathlib import Path

    pairs = json.loads((Path(__file__).parent / "fixtures" / "dataset" / "twin_pairs.json").read_text())
    found = sum(twins(a, b) for a, b in pairs["twin"])
    wrong = sum(twins(a, b) for a, b in pairs["different"])
    assert found >= 25 and wrong <= 3, (found, wrong)


def test_word_key_ignores_filler_and_clause_order_but_not_values_or_word_order():
    assert word_key("1 1/2 cups of rice") == word_key("1 1/2 cups rice") == word_key("1 1/2 Cups of the rice")
    assert word_key("If it rains, bring an umbrella") == word_key("Bring an umbrella, if it rains")
    assert word_key("1 1/2 cups of rice") != word_key("2 1/2 cups of rice")
    assert word_key("2 cups flour") != word_key("2 cups sugar")
    assert word_key("Convert 5 miles to km") != word_key("Convert 5 km to miles")


def test_a_reworded_question_is_flagged_when_a_batch_arrives_and_other_values_are_not(tmp_path):
    with ReviewStore(tmp_path / "tunesmith.db") as store:
        store.save_project("p", TASK, [sample(q, a) for q, a in DISTINCT[:3]])
        batch, flagged = import_for_review(store, "p", [
            sample("2 cups of flour", "250 g"),  # seed 1 with "of" (word 3-gram Jaccard 0.2)
            sample("3 cups sugar, please", "600 g"),  # seed 2, politer
            sample("2 cups sugar", "400 g"),  # the template with other values
            sample("1 1/2 cups rice", "280 g"),
            sample("one and a half cups of rice", "280 g"),
            sample("1 1/2 cups of rice", "280 g")])  # a rewording of the one two rows up
        tags = [s.tags for s in store.batch_samples(batch.id)]
    assert tags[0] == ["duplicate of seed 1 reworded"] and tags[1][0].startswith("duplicate of seed 2")
    assert tags[2] == [] and tags[3] == [] and tags[4] == []
    assert tags[5][0].startswith("duplicate of ") and flagged == 3


def planted() -> tuple[list[AlpacaSample], list[tuple[int, int]]]:
    rows = [sample(q, a) for q, a in DISTINCT]
    pairs = []
    for a, b, answer in REWORDED:
        rows += [sample(a, answer), sample(b, answer)]
        pairs.append((len(rows) - 2, len(rows) - 1))
    return rows, pairs


def test_a_build_keeps_rewordings_on_one_side_and_says_it_checked_meaning(tmp_path):
    rows, pairs = planted()
    for seed in range(4):
        report = build_dataset(rows, tmp_path / f"out-{seed}", eval_fraction=0.3, seed=seed)
        assert report["held_out"]["by_meaning"] and report["held_out"]["meaning_pairs"] >= 3
        evaluation = {s["input"] for s in json.loads((tmp_path / f"out-{seed}" / "eval.json").read_text())}
        assert all((rows[a].input in evaluation) == (rows[b].input in evaluation) for a, b in pairs), seed
    assert "twins by meaning checked on" in (tmp_path / "out-0" / "report.md").read_text()


def test_over_the_meaning_limit_word_keys_still_hold_rewordings_together():
    rows, pairs = planted()
    keys, questions = keyed(rows)
    labels, check = twin_labels(keys, 0.8, sample_grams_of(questions, rows), grams_of(questions),
                                lambda rows: pytest.fail("no embedding over the limit"), max_meaning_rows=4)
    assert not check["by_meaning"] and "not checked" in check["note"]
    a, b = pairs[0]  # "1 1/2 cups of rice" / "1 1/2 cups rice": same word key
    assert labels[a] == labels[b]
    a, b = pairs[2]  # "8 ounces of butter, softened" / "softened, 8 oz butter": meaning only
    assert labels[a] != labels[b]


def test_find_leaks_finds_planted_rewordings_and_not_other_values():
    train = [sample(q, a) for q, a in DISTINCT] + [sample(a, answer) for a, _, answer in REWORDED]
    evaluation = ([sample(b, answer) for _, b, answer in REWORDED]
                  + [sample(b, "?") for _, b in OTHER_VALUES[:2]]  # "2 cups sugar", "3 cups flour"
                  + [sample("2 1/2 cups of rice", "470 g"), sample("4 cups oats", "360 g"),
                     sample("2 cups flour", "250 g")])  # the last one: an exact repeat
    leaks = find_leaks(train, evaluation)
    assert all(isinstance(leak, Leak) for leak in leaks)
    assert [leak.eval_index for leak in leaks] == [0, 1, 2, 3, 4, len(evaluation) - 1]
    assert [leak.train_index for leak in leaks] == [len(DISTINCT) + i for i in range(5)] + [0]
    by = {leak.eval_index: leak.by for leak in leaks}
    assert by[0] == "words" and by[2] == "meaning" and by[len(evaluation) - 1] == "words"
    assert all(0 < leak.similarity <= 1 for leak in leaks)
    assert find_leaks(train, []) == [] and find_leaks([], evaluation) == []


def test_meaning_pairs_leaves_out_pairs_whose_numbers_differ():
    texts = ["1 1/2 cups of rice", "2 1/2 cups of rice", "1 1/2 cups rice"]
    assert [(i, j) for i, j, _ in meaning_pairs(texts)] == [(0, 2)]
