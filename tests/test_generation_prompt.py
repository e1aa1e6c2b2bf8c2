"""The batch prompt: slots filled at the call site, seeds rotated, feedback and rejected examples shown."""

from __future__ import annotations

from prompts.generation import EMPTY_SLOT, GENERATION_SYSTEM_PROMPT
from tools.dataset.schema import AlpacaSample
from tools.generation.prompt import MAX_REJECTED_IN_PROMPT, build_batch_prompt, choose_seeds


def test_choose_seeds_rotates_through_every_seed_and_is_repeatable():
    usage: dict[int, int] = {}
    shown = []
    for batch in range(4):
        picked = choose_seeds(10, k=5, usage=usage, rng_seed=batch)
        shown.append(picked)
        for index in picked:
            usage[index] = usage.get(index, 0) + 1
    assert set(shown[0]) | set(shown[1]) == set(range(10))  # two batches of 5 cover all 10 seeds
    assert shown[0] != shown[2]  # not always the same five
    assert choose_seeds(10, k=5, rng_seed=3) == choose_seeds(10, k=5, rng_seed=3)
    assert choose_seeds(3, k=5) and len(choose_seeds(3, k=5)) == 3


def test_prompt_carries_task_examples_notes_rejected_count_and_history_rule():
    seeds = [AlpacaSample(instruction="Greet", output="Hi", history=[("Who are you?", "A bot")])]
    rejected = [(AlpacaSample(instruction=f"Bad {i}", output="x"), f"reason {i}") for i in range(8)]
    messages = build_batch_prompt(
        "Write greetings",
        seeds,
        7,
        system="Be warm.",
        notes=["Avoid: slang", " "],
        rejected=rejected,
        avoid_texts=["Greet the team"],
    )
    assert messages[0] == {"role": "system", "content": GENERATION_SYSTEM_PROMPT}
    user = messages[1]["content"]
    assert "<task>\nWrite greetings\n</task>" in user
    assert "Be warm." in user
    assert '"history": [["Who are you?", "A bot"]]' in user
    assert "- Avoid: slang" in user and "- \n" not in user
    assert "reason 7" in user and "reason 2" not in user  # only the latest few rejected
    assert user.count("reason ") == MAX_REJECTED_IN_PROMPT
    assert "- Greet the team" in user
    assert "Write exactly 7 new samples" in user
    assert '{"samples": [{"instruction"' in user  # literal braces survived formatting


def test_empty_slots_say_so():
    user = build_batch_prompt("Task", [], 20)[1]["content"]
    assert f"Avoid every one of them:\n{EMPTY_SLOT}\n</feedback>" in user
    assert f"Write different ones:\n{EMPTY_SLOT}\n</already_written>" in user
    assert "{count}" not in user
