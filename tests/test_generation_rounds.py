"""Two rounds on a stored project: notes and rejects of round 1 steer round 2; seeds rotate between rounds."""

from __future__ import annotations

import pytest
from langchain_openai import ChatOpenAI
from openai_stub import openai_stub_fixture  # noqa: F401  (the openai_stub fixture)

from tools.dataset.schema import AlpacaSample
from tools.errors import UserError
from tools.generation.rounds import generate_next_batch, learn_from_batch
from tools.generation.store import ReviewStore

SEEDS = [
    AlpacaSample(instruction=f"Seed question {i} about topic{i * 11}", output=f"Seed answer {i}")
    for i in range(6)
]


def samples(start: int, count: int) -> dict:
    return {
        "samples": [
            {"instruction": f"Generated question {i} on item{i * 17}", "output": f"Answer {i}"}
            for i in range(start, start + count)
        ]
    }


def test_two_rounds_carry_notes_forward(tmp_path, openai_stub):
    openai_stub.script(samples(0, 3), samples(3, 3))
    model = ChatOpenAI(base_url=openai_stub.base_url, api_key="k", model="m", max_retries=0)
    with ReviewStore(tmp_path / "tunesmith.db") as store:
        store.save_project("t1", "Answer questions", SEEDS, system="Be exact.", target_count=6)
        batch, result = generate_next_batch(store, "t1", model, n=3, backoff_s=0)
        assert result.complete and batch is not None and batch.number == 1
        with pytest.raises(UserError, match="still under review"):
            generate_next_batch(store, "t1", model, n=3)

        first, second, third = store.batch_samples(batch.id)
        store.approve(first.id)
        store.reject(second.id, "answer does not match the question")
        store.edit(third.id, {**third.current.to_record(), "output": "Answer 2, in short."})
        notes = learn_from_batch(store, batch.id)
        assert notes[0] == 'Avoid: answer does not match the question (for cases like "Generated question 1 on item17")'

        batch2, result2 = generate_next_batch(store, "t1", model, n=3, backoff_s=0)
        assert result2.complete and batch2.number == 2
        unused = set(range(6)) - set(result.seed_indices)  # 6 seeds, 5 shown: the unused one comes first now
        assert len(unused) == 1 and unused <= set(result2.seed_indices)
        usage = store.project("t1").seed_usage
        assert sum(usage.values()) == 10 and set(usage) == set(range(6))
    prompt = openai_stub.user_prompts()[1]
    assert "- Avoid: answer does not match the question" in prompt
    assert "Generated question 0 on item0" in prompt  # accepted questions are listed to avoid repeats


def test_submitting_a_batch_twice_keeps_the_notes_the_person_edited_since(tmp_path):
    from tools.dataset.schema import AlpacaSample
    from tools.generation.rounds import learn_from_batch
    from tools.generation.store import ReviewStore

    with ReviewStore(tmp_path / "t.db") as store:
        store.save_project("p", "task", [AlpacaSample(instruction="q", output="a")])
        batch = store.add_batch("p", [AlpacaSample(instruction="q2", output="a2")])
        store.reject(store.batch_samples(batch.id)[0].id, "too long")
        assert learn_from_batch(store, batch.id)  # the reason became a note
        store.set_notes("p", ["keep answers short"])  # the person rewrote it
        assert learn_from_batch(store, batch.id) == ["keep answers short"]  # e.g. the app's submit after the CLI's


def test_a_round_version_leaves_out_the_rows_an_earlier_round_was_scored_on(tmp_path):
    from tools.dataset.readers import read_samples
    from tools.dataset.versions import BuildSettings
    from tools.generation.project_dataset import build_project_version

    with ReviewStore(tmp_path / "tunesmith.db") as store:
        store.save_project("t1", "Answer questions", SEEDS)
        reworded = AlpacaSample(instruction="Convert 2 cups of flour to grams", output="250 g")
        batch = store.add_batch("t1", [*(AlpacaSample(**item) for item in samples(0, 8)["samples"]), reworded])
        store.bulk([s.id for s in store.batch_samples(batch.id)], "approve")
        held_out = [SEEDS[2], AlpacaSample(instruction="generated question 3 on item51  ", output="another answer"),
                    AlpacaSample(instruction="How many grams is 2 cups of flour?", output="250 g")]
        report = build_project_version(store, "t1", tmp_path / "datasets", BuildSettings(eval_fraction=0.2),
                                       leave_out=held_out)
    folder = tmp_path / "datasets" / "v001-reviewed"
    built = {s.instruction for name in ("train.json", "eval.json") for s in read_samples(folder / name).samples}
    assert len(built) == 12 and SEEDS[2].instruction not in built and "Generated question 3 on item51" not in built
    assert reworded.instruction not in built  # the same question in other words stays out too
    assert report["version"]["inputs"][-1] == {"source": "left out: held-out rows of the first round and their "
                                                          "twins", "rows": 3}
