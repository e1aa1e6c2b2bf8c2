"""Few-shot prompts: all examples when few, the most relevant ones when many, and trying a prompt."""

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from tools.dataset.schema import AlpacaSample
from tools.errors import LLMUnavailable, UserError
from tools.icl import ExampleRetriever, build_few_shot_prompt, try_prompt
from tools.icl.prompt import QUERY_SLOT

WEATHER = [
    ("Is it going to rain in Paris tomorrow?", "weather"),
    ("Will there be snow in the Alps this weekend?", "weather"),
    ("How hot will it be in Madrid on Friday?", "weather"),
]
BILLING = [
    ("Why was my credit card charged twice?", "billing"),
    ("How do I download last month's invoice?", "billing"),
    ("Can I get a refund for my subscription payment?", "billing"),
]
SPORTS = [
    ("Who won the football match last night?", "sports"),
    ("When does the tennis tournament final start?", "sports"),
    ("How many goals did the striker score this season?", "sports"),
]


def _samples(pairs):
    return [
        AlpacaSample(instruction="Classify the message topic.", input=q, output=label) for q, label in pairs
    ]


ALL = _samples(WEATHER + BILLING + SPORTS)


def test_few_examples_are_all_included_in_order():
    prompt = build_few_shot_prompt(
        "Label each customer message with its topic.", ALL[:3], query="Rain in Oslo?"
    )
    assert prompt.startswith("Label each customer message")
    positions = [prompt.index(sample.input) for sample in ALL[:3]]
    assert positions == sorted(positions) and "### Example 3" in prompt
    assert prompt.rstrip().endswith("Rain in Oslo?\nResponse:")


def test_many_examples_retrieve_the_relevant_ones(tmp_path):
    retriever = ExampleRetriever(ALL, persist_dir=tmp_path)
    prompt = build_few_shot_prompt(
        "Label each message.",
        ALL,
        query="I was billed two times for one order",
        max_examples=3,
        retriever=retriever,
    )
    assert all(q in prompt for q, _ in BILLING)
    assert not any(q in prompt for q, _ in WEATHER + SPORTS)
    picked = retriever.retrieve("Will it be sunny in Rome?", k=2)
    assert {s.output for s in picked} == {"weather"}
    again = ExampleRetriever(ALL, persist_dir=tmp_path)  # same examples reuse the stored collection
    assert [s.input for s in again.retrieve("snowfall forecast", k=1)] == [
        "Will there be snow in the Alps this weekend?"
    ]


def test_shared_system_prompt_and_history_are_shown():
    sample = AlpacaSample(
        instruction="And in French?",
        output="Bonjour",
        system="Be brief.",
        history=[("Say hello in German.", "Hallo")],
    )
    prompt = build_few_shot_prompt("Translate greetings.", [sample])
    assert "Behaviour to keep: Be brief." in prompt
    assert "Earlier input:\nSay hello in German." in prompt and prompt.rstrip().endswith(
        f"{QUERY_SLOT}\nResponse:"
    )


def test_bad_input_is_refused():
    with pytest.raises(UserError, match="task description"):
        build_few_shot_prompt("  ", ALL)
    with pytest.raises(UserError, match="no examples"):
        build_few_shot_prompt("Label.", [])


def test_try_prompt_fills_the_query_and_reports_failures():
    prompt = build_few_shot_prompt("Label each message.", ALL[:2])
    model = GenericFakeChatModel(messages=iter([AIMessage(" weather ")]))
    assert try_prompt(model, prompt, "Is a storm coming?") == "weather"
    with pytest.raises(UserError, match="another query"):
        try_prompt(model, build_few_shot_prompt("Label.", ALL[:2], query="first"), "second")
    with pytest.raises(LLMUnavailable):
        try_prompt(GenericFakeChatModel(messages=iter([])), prompt, "Is a storm coming?")
