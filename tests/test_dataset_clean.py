"""Cleaning (normalise, drop with reasons, de-duplicate) and the leak-free train/eval split."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tools.dataset.clean import (
    CleanConfig,
    clean_samples,
    dedup_texts,
    normalize_text,
    settle_duplicates,
    strip_output_wrapper,
    visiting_order,
)
from tools.dataset.dedup import NearDuplicateIndex, minhashes, similar_pairs, similarity, to_bbit
from tools.dataset.schema import AlpacaSample
from tools.dataset.split import eval_size, split_train_eval
from tools.errors import UserError

LONG = (
    "The quick brown fox jumps over the lazy dog while the farmer watches from the porch and "
    "drinks a cup of hot tea before the long day of work in the fields begins"
)


def sample(instruction: str, output: str, **extra) -> AlpacaSample:
    return AlpacaSample(instruction=instruction, output=output, **extra)


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


def test_clean_counts_every_drop_with_its_reason_and_id():
    samples = [
        sample("Tell a story.", LONG),
        sample("tell a story", "  " + LONG.upper() + "  "),  # exact duplicate up to case and spaces
        sample("Tell a story.", LONG.replace("begins", "starts")),  # near duplicate
        sample("Say nothing.", "Output:"),  # empty once the prefix is gone
        sample("Q" * 50, "A"),
        sample("Write an essay.", "word " * 50),
        sample("Another task entirely.", "A different answer."),
    ]
    ids = [f"f:{i}" for i in range(1, 8)]
    result = clean_samples(samples, ids, CleanConfig(max_prompt_chars=40, max_output_chars=200))
    assert result.drops == {
        "exact_duplicate": 1,
        "near_duplicate": 1,
        "empty_after_cleaning": 1,
        "prompt_too_long": 1,
        "output_too_long": 1,
    }
    assert result.dropped_ids == {
        "empty_after_cleaning": ["f:4"],
        "prompt_too_long": ["f:5"],
        "output_too_long": ["f:6"],
        "exact_duplicate": ["f:2"],
        "near_duplicate": ["f:3"],
    }
    assert result.ids == ["f:1", "f:7"]
    assert len(result.samples) + sum(result.drops.values()) == len(samples)


def test_shared_instruction_template_is_not_a_near_duplicate():
    instruction = (
        "Classify the sentiment of the customer message below as positive, negative or neutral please."
    )
    samples = [
        sample(instruction, label, input=text)
        for text, label in [
            ("Great app!", "positive"),
            ("It crashes.", "negative"),
            ("It is okay.", "neutral"),
        ]
    ]
    assert clean_samples(samples).drops == {}
    # without leaving the shared instruction out, these would look alike
    assert NearDuplicateIndex(0.5).add_if_new("a", samples[0].prompt_text()) is None
    texts = dedup_texts(samples)
    assert instruction not in texts[0] and "Great app!" in texts[0]


def test_eval_size_rules():
    assert eval_size(1, 0.1) == 0
    assert eval_size(2, 0.1) == 1
    assert eval_size(20, 0.1) == 2
    assert eval_size(20, 0.0) == 0
    assert eval_size(3, 0.9) == 2  # always leaves one for training
    with pytest.raises(UserError, match=r"must be in \[0, 1\)"):
        eval_size(10, 1.5)


def test_split_is_seeded_and_keeps_duplicates_on_one_side():
    samples = [
        sample(f"Question number {i} about topic {i * 7}", f"Answer {i} with detail {i * 3}")
        for i in range(20)
    ]
    # three near duplicates of each other (indices 20, 21, 22) must land on the same side
    samples += [sample(LONG, "a"), sample(LONG + " again", "a"), sample(LONG + " and again", "a")]
    train, held = split_train_eval(samples, 0.2, seed=1)
    assert (train, held) == split_train_eval(samples, 0.2, seed=1)
    assert split_train_eval(samples, 0.2, seed=2) != (train, held)
    assert sorted(train + held) == list(range(len(samples)))
    assert not {20, 21, 22} & set(train) or not {20, 21, 22} & set(held)
    index = NearDuplicateIndex(0.8)
    for i in train:
        index.add(str(i), dedup_texts(samples)[i])
    assert all(index.find(dedup_texts(samples)[i]) is None for i in held)


def test_tiny_datasets_still_get_one_eval_sample():
    train, held = split_train_eval([sample("A question", "x"), sample("Other thing", "y")], 0.1)
    assert len(train) == 1 and len(held) == 1
    assert split_train_eval([sample("A question", "x")], 0.1) == ([0], [])


def test_split_keeps_a_chain_of_near_duplicates_together():
    words = [f"word{i}" for i in range(140)]  # windows shifted by 20 words: Jaccard 0.66 next door, 0.42 two away
    a, b, c = (sample(" ".join(words[start:start + 100]), "x") for start in (0, 20, 40))
    index = NearDuplicateIndex(0.55)
    index.add("a", dedup_texts([a])[0])
    assert index.find(dedup_texts([c])[0]) is None  # a and c are not alike ...
    index.add("c", dedup_texts([c])[0])
    assert index.find_all(dedup_texts([b])[0]) == ["a", "c"]  # ... but b is like both
    others = [sample(f"Unrelated question {i} on subject {i * 17}", f"Reply {i}") for i in range(9)]
    samples = [a, c, b, *others]  # b comes last, so it must merge the groups of a and c
    for seed in range(8):
        train, held = split_train_eval(samples, 0.25, seed=seed, near_duplicate_threshold=0.55)
        assert {0, 1, 2} <= set(train) or {0, 1, 2} <= set(held)


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
