"""Profile answers read from plain statements without an LLM; nothing read from text that does not say it."""
import pytest

from tools.advisor.keywords import PHRASES, describe_hints, read_profile_hints
from tools.advisor.profile import QUESTION_BY_FIELD, TaskProfile, apply_answer

CASES = [
    ("Turn support emails into a JSON ticket with a strict schema; we have ~30 examples",
     {"custom_tone_behavior_style": True, "labeled_data": "few", "task_diversity": "narrow"}),
    ("Answer questions from our product documentation, which changes weekly, and it must cite sources",
     {"requires_external_knowledge": True, "data_dynamics": "dynamic", "transparency_required": True}),
    ("We have 5k labelled tickets and handle millions of requests a day; we've never fine-tuned anything",
     {"labeled_data": "thousands", "scale_latency_pressure": "high",
      "cost_complexity_expertise.finetuning_experience": False}),
    ("A general-purpose assistant on a tight budget", {"task_diversity": "broad",
                                                       "cost_complexity_expertise.budget": "low"}),
    ("1,200 past conversations. Medical domain, it must never make things up.",
     {"labeled_data": "thousands", "hallucination_tolerance": "low"}),
    ("about 250 examples", {"labeled_data": "hundreds"}),
    ("we don't have any examples yet", {"labeled_data": "none"}),
    ("Replies must keep our brand voice", {"custom_tone_behavior_style": True}),
    ("The policies rarely change", {"data_dynamics": "static"}),
    ("We already run Elasticsearch for the help centre", {"cost_complexity_expertise.search_expertise": True}),
]


@pytest.mark.parametrize("text, expected", CASES)
def test_plain_statements_give_the_answers_they_state(text, expected):
    assert {h.field: h.value for h in read_profile_hints(text)} == expected


@pytest.mark.parametrize("text", ["hello", "I need help with my model", "banana", "Tell me more about option 2",
                                  "We label nothing by hand", "my name is Sam and I work at a bakery",
                                  "Route tickets to 5 queues across 12 categories", "It runs 3 times a day",
                                  "The 2,000-page book is long", "We sell 10 products"])
def test_text_that_states_nothing_gives_nothing(text):
    assert read_profile_hints(text) == []


def test_every_phrase_answers_a_real_question_with_a_valid_value():
    for phrase in PHRASES:
        assert phrase.field in QUESTION_BY_FIELD or phrase.field == "preferred_approach"
        if phrase.value != "count":
            apply_answer(TaskProfile(), phrase.field, phrase.value)  # raises if the value is not allowed


@pytest.mark.parametrize("text, expected", [
    ("10k calls a day and 2 million emails a month", {"scale_latency_pressure": "high"}),  # volume, not examples
    ("We'd like to fine-tune Llama on our 2,000-page policy manual",
     {"preferred_approach": "fine-tune", "requires_external_knowledge": True}),
    ("no special format, no outside knowledge", {"custom_tone_behavior_style": False,
                                                 "requires_external_knowledge": False}),
    ("We've fine-tuned models before", {"cost_complexity_expertise.finetuning_experience": True}),
    ("show the reasoning step by step", {"transparency_required": True}),
])
def test_rates_preferences_and_negations(text, expected):
    assert {h.field: h.value for h in read_profile_hints(text)} == expected


def test_the_note_shows_each_answer_with_the_words_it_came_from():
    note = describe_hints(read_profile_hints("we have ~30 examples and our wiki changes daily"))
    assert "- Worked examples: **A few (under 100)** (from “30 examples”)" in note
    assert "- How often that knowledge changes: **Often (weekly or faster)** (from “changes daily”)" in note
    assert "- Needs your own knowledge: **Yes** (from “our wiki”)" in note


def test_descriptions_in_the_scenario_table_are_read():
    from tests.advisor_scenarios import load_scenarios, score_reading

    scores = score_reading(load_scenarios())
    assert scores["fields_right"] >= 0.9 * scores["stated_fields"], scores["missed"]
    assert scores["fields_wrong"] <= 3, scores["wrong_reads"]
    assert scores["approach_after_interview_acceptable"] == scores["cases"]
    assert scores["approach_from_text_acceptable"] >= 0.95 * scores["cases"]
