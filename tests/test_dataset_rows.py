"""A row's way through the real build (tools.dataset.build): normalised, dropped with its reason and id (too long,
empty, an exact or near twin), and split train/eval seeded with every group of twins on one side; and the MinHash
engine behind every twin check."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from tools.dataset.build import build_dataset
from tools.dataset.dedup import NearDuplicateIndex, grams_of, minhashes, similar_pairs, similarity, to_bbit
from tools.dataset.normalize import CleanConfig, normalize_text, strip_output_wrapper
from tools.dataset.row_keys import keyed, sample_grams_of, settle_duplicates, visiting_order
from tools.dataset.schema import AlpacaSample
from tools.dataset.split import eval_size, twin_labels
from tools.errors import UserError

LONG = (
    "The quick brown fox jumps over the lazy dog while the farmer watches from the porch and "
    "drinks a cup of hot tea before the long day of work in the fields begins"
)


def sample(instruction: str, output: str, **extra) -> AlpacaSample:
    return AlpacaSample(instruction=instruction, output=output, **extra)


def split_of(samples: list[AlpacaSample], folder, eval_fraction: float, seed: int = 42, **config) -> tuple[set, set]:
    """(train, eval) as sets of sample positions, from a real build of the samples."""
    report = build_dataset(samples, folder, eval_fraction=eval_fraction, seed=seed,
                           clean_config=CleanConfig(**config) if config else None)
    assert report["dropped"] == 0
    where = {(s.instruction, s.output): i for i, s in enumerate(samples)}
    sides = [{where[(row["instruction"], row["output"])] for row in json.loads((folder / name).read_text())}
             if (folder / name).exists() else set() for name in ("train.json", "eval.json")]
    return sides[0], sides[1]


def test_normalize_text():
    assert normalize_text("  a\u200b b\u00a0c  \r\n\r\n\r\n\r\nd\t \n") == "a b c\n\nd"
    assert normalize_text("e\u0301") == "\u00e9"  # NFC composes
    assert normalize_text("x\u00b2 \ufb01") == "x\u00b2 \ufb01"  # NFKC-only changes are not applied


def test_strip_output_wrapper():
    assert strip_output_wrapper("Output: 42") == ("42", ["answer_prefix_stripped"])
    assert strip_output_wrapper('```json\n{"a": 1}\n```') == ('{"a": 1}', ["code_fence_stripped"])
    assert strip_output_wrapper("```json\n{}\n```", strip_code_fences=False) == ("```json\n{}\n```", [])
    two_blocks = "```\na\n```\ntext\n```\nb\n```"
    assert strip_output_wrapper(two_blocks) == (two_blocks, [])  # not one fence around the whole output
    assert strip_output_wrapper("The output: is fine") == ("The output: is fine", [])


def test_a_build_counts_every_drop_with_its_reason_and_id(tmp_path):
    rows = [
        sample("Tell a story.", LONG),
        sample("tell a story", "  " + LONG.upper() + "  "),  # exact duplicate up to case and spaces
        sample("Tell a story.", LONG.replace("begins", "starts")),  # near duplicate
        sample("Say nothing.", "Output:"),  # empty once the prefix is gone
        sample("Q" * 50, "A"),
        sample("Write an essay.", "word " * 50),
        sample("Another task entirely.", "A different answer."),
    ]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(row.to_record()) + "\n" for row in rows))
    report = build_dataset([data], tmp_path / "out", eval_fraction=0.0,
                           clean_config=CleanConfig(max_prompt_chars=40, max_output_chars=200))
    assert report["drops"] == {"exact_duplicate": 1, "near_duplicate": 1, "empty_after_cleaning": 1,
                               "prompt_too_long": 1, "output_too_long": 1}
    dropped = {row["id"]: (row["reason"], row["kept"]) for row in report["dropped_rows"]}
    assert dropped == {"rows.jsonl:2": ("exact_duplicate", "rows.jsonl:1"),
                       "rows.jsonl:3": ("near_duplicate", "rows.jsonl:1"),
                       "rows.jsonl:4": ("empty_after_cleaning", None), "rows.jsonl:5": ("prompt_too_long", None),
                       "rows.jsonl:6": ("output_too_long", None)}
    kept = json.loads((tmp_path / "out" / "train.json").read_text())
    assert [row["instruction"] for row in kept] == ["Tell a story.", "Another task entirely."]
    assert report["kept"] + report["dropped"] == report["rows_read"] == len(rows)


def test_a_shared_instruction_template_is_not_a_near_duplicate(tmp_path):
    instruction = (
        "Classify the sentiment of the customer message below as positive, negative or neutral please."
    )
    samples = [sample(instruction, label, input=text) for text, label in
               [("Great app!", "positive"), ("It crashes.", "negative"), ("It is okay.", "neutral")]]
    # the whole prompts look alike; a build compares the inputs, as the instruction is a template
    assert NearDuplicateIndex(0.5).add_if_new("a", samples[0].prompt_text()) is None
    assert build_dataset(samples, tmp_path / "out", eval_fraction=0.0)["drops"] == {}


def test_eval_size_rules():
    assert eval_size(1, 0.1) == 0
    assert eval_size(2, 0.1) == 1
    assert eval_size(20, 0.1) == 2
    assert eval_size(20, 0.0) == 0
    assert eval_size(3, 0.9) == 2  # always leaves one for training
    with pytest.raises(UserError, match=r"must be in \[0, 1\)"):
        eval_size(10, 1.5)


def test_the_split_is_seeded_and_keeps_near_twins_on_one_side(tmp_path):
    samples = [
        sample(f"Question number {i} about topic {i * 7}", f"Answer {i} with detail {i * 3}")
        for i in range(20)
    ]
    # three twins that a build keeps (the same question but for filler words, one answer): on the same side
    samples += [sample("How many grams is 1 1/2 cups of rice?", "280 g"),
                sample("How many grams is 1 1/2 cups rice?", "280 g"),
                sample("Please, how many grams is 1 1/2 cups of the rice?", "280 g")]
    train, held = split_of(samples, tmp_path / "a", 0.2, seed=1)
    assert (train, held) == split_of(samples, tmp_path / "b", 0.2, seed=1)
    assert split_of(samples, tmp_path / "c", 0.2, seed=2) != (train, held)
    assert train | held == set(range(len(samples))) and len(held) == 5
    for seed in range(4):
        train, held = split_of(samples, tmp_path / f"s{seed}", 0.2, seed=seed)
        assert {20, 21, 22} <= train or {20, 21, 22} <= held, seed


def test_tiny_datasets_still_get_one_eval_sample(tmp_path):
    train, held = split_of([sample("A question", "x"), sample("Other thing", "y")], tmp_path / "two", 0.1)
    assert len(train) == 1 and len(held) == 1
    assert split_of([sample("A question", "x")], tmp_path / "one", 0.1) == ({0}, set())


def test_twin_labels_join_a_chain_of_near_twins():
    """A build drops near twins of one question before it splits; the labels the split keeps together still join a
    chain (b like a and like c, a unlike c), as rewordings by meaning or by words can form one."""
    words = [f"word{i}" for i in range(140)]  # windows shifted by 20 words: Jaccard 0.66 next door, 0.42 two away
    a, b, c = (sample(" ".join(words[start:start + 100]), f"x{start}") for start in (0, 20, 40))
    index = NearDuplicateIndex(0.55)
    index.add("a", a.instruction)
    assert index.find(c.instruction) is None  # a and c are not alike ...
    index.add("c", c.instruction)
    assert index.find_all(b.instruction) == ["a", "c"]  # ... but b is like both
    others = [sample(f"Unrelated question {i} on subject {i * 17}", f"Reply {i}") for i in range(9)]
    samples = [a, c, b, *others]  # b comes last, so it must merge the groups of a and c
    keys, questions = keyed(samples)
    labels, _ = twin_labels(keys, 0.55, sample_grams_of(questions, samples), grams_of(questions),
                            lambda rows: [questions[i] for i in rows.tolist()])
    assert labels[0] == labels[1] == labels[2] and len(set(labels.tolist())) == 1 + len(others)


# ---------------------------------------------------------------- the MinHash engine behind every twin check

VOCABULARY = [f"w{i}" for i in range(300)]


def _random_text(rng: random.Random, words: int = 30) -> str:
    return " ".join(rng.choice(VOCABULARY) for _ in range(words))


def test_a_signature_does_not_depend_on_the_texts_hashed_with_it():
    texts = [f"text number {i} about " + "x " * (i % 5) for i in range(40)] + ["", "a", "a b", "A, b!"]
    alone = np.vstack([minhashes([text]) for text in texts])
    assert (minhashes(texts) == alone).all()
    assert (minhashes(["a b"]) == minhashes(["A, b!"])).all()  # case and punctuation do not count


def test_estimated_similarity_follows_the_true_jaccard():
    rng = random.Random(3)
    errors = []
    for _ in range(200):
        words = _random_text(rng, 40).split()
        other = list(words)
        for _ in range(rng.randint(0, 10)):
            other[rng.randrange(40)] = rng.choice(VOCABULARY)
        grams = [{" ".join(w[i:i + 3]) for i in range(len(w) - 2)} for w in (words, other)]
        truth = len(grams[0] & grams[1]) / len(grams[0] | grams[1])
        sigs = to_bbit(minhashes([" ".join(words), " ".join(other)]))
        errors.append(float(similarity(sigs[0], sigs[1])) - truth)
    assert abs(np.mean(errors)) < 0.02 and np.mean(np.abs(errors)) < 0.06 and max(map(abs, errors)) < 0.25


def test_lsh_finds_every_planted_twin_among_thousands_and_nothing_else():
    rng = random.Random(5)
    texts = [_random_text(rng) for _ in range(3000)]
    planted = set()
    for i in range(0, 3000, 100):  # the last word changed: Jaccard 27/29
        texts.append(texts[i].rsplit(" ", 1)[0] + " changed")
        planted.add((i, len(texts) - 1))
    pairs = similar_pairs(to_bbit(minhashes(texts)), np.arange(len(texts)), 0.8)
    assert {tuple(pair) for pair in pairs.tolist()} == planted


def test_an_edited_twin_outranks_the_one_seen_first():
    keys = np.array([1, 1, 2, 1])
    sigs = to_bbit(minhashes(["same text here", "same text here", "something else entirely", "same text here"]))
    order = visiting_order([0, 2, 0, 0], [False, False, False, True])
    dropped = settle_duplicates(keys, sigs, order, np.array([False, False, False, True]), 0.8)
    assert dropped == {0: ("exact_duplicate", 1)}  # row 1 (edited) kept, row 3 kept on purpose
