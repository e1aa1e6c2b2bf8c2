"""The decision rules on scenarios written from Meta's guidance (domain.md §2)."""
import pytest

from tools.advisor.profile import validate_profile
from tools.advisor.recommend import recommend
from tools.advisor.rules import RULES

CCE = "cost_complexity_expertise"
SCENARIOS = [
    # (name, profile, expected approach)
    ("nothing known: start simple", {}, "icl"),
    ("support bot over product docs that change weekly",
     {"requires_external_knowledge": True, "data_dynamics": "dynamic"}, "rag"),
    ("legal Q&A that must cite sources", {"requires_external_knowledge": True, "transparency_required": True,
                                          "hallucination_tolerance": "low"}, "rag"),
    ("citations alone imply a knowledge source", {"transparency_required": True}, "rag"),
    ("static internal handbook", {"requires_external_knowledge": True, "data_dynamics": "static"}, "rag"),
    ("brand voice for marketing copy", {"custom_tone_behavior_style": True, "task_diversity": "narrow"}, "fine-tune"),
    ("strict JSON extraction with hundreds of examples",
     {"custom_tone_behavior_style": True, "labeled_data": "hundreds", "task_diversity": "narrow"}, "fine-tune"),
    ("high-volume narrow classifier: distil into a small model",
     {"scale_latency_pressure": "high", "task_diversity": "narrow", "labeled_data": "thousands"}, "fine-tune"),
    ("high volume alone is not enough to train", {"scale_latency_pressure": "high"}, "icl"),
    ("styled answers over changing docs", {"custom_tone_behavior_style": True, "requires_external_knowledge": True,
                                          "data_dynamics": "dynamic"}, "rag+fine-tune"),
    ("medical assistant: house style, grounded, cited",
     {"custom_tone_behavior_style": True, "transparency_required": True, "hallucination_tolerance": "low"},
     "rag+fine-tune"),
    ("broad general assistant with a tone", {"custom_tone_behavior_style": True, "task_diversity": "broad"}, "icl"),
    ("broad assistant over company knowledge", {"requires_external_knowledge": True, "task_diversity": "broad"}, "rag"),
    ("creative writing, hallucinations harmless",
     {"hallucination_tolerance": "high", "task_diversity": "broad"}, "icl"),
    ("low hallucination tolerance alone: grounding helps only with a source",
     {"hallucination_tolerance": "low"}, "icl"),
    ("few examples, no special needs", {"labeled_data": "few", "task_diversity": "moderate"}, "icl"),
    ("no data and a tone need: still fine-tune, but warned", {"custom_tone_behavior_style": True,
                                                              "labeled_data": "none"}, "fine-tune"),
    ("low budget, no experience, style + scale",
     {"custom_tone_behavior_style": True, "scale_latency_pressure": "high",
      CCE: {"budget": "low", "finetuning_experience": False}}, "fine-tune"),
    ("low budget, no experience, only a mild style need",
     {"custom_tone_behavior_style": True, "task_diversity": "broad", CCE: {"budget": "low",
                                                                           "finetuning_experience": False}}, "icl"),
    ("many labelled examples for a focused task and scale pressure",
     {"labeled_data": "thousands", "task_diversity": "moderate", "scale_latency_pressure": "high"}, "fine-tune"),
    ("knowledge-injection trap: wants to fine-tune facts in",
     {"requires_external_knowledge": True, "preferred_approach": "fine-tune"}, "rag"),
    ("search experts with dynamic data", {"data_dynamics": "dynamic", CCE: {"search_expertise": True}}, "rag"),
    ("translation into an under-represented style, thousands of pairs",
     {"custom_tone_behavior_style": True, "labeled_data": "thousands", "task_diversity": "narrow",
      "requires_external_knowledge": False}, "fine-tune"),
    ("summarise meeting notes, moderate everything",
     {"requires_external_knowledge": False, "custom_tone_behavior_style": False, "task_diversity": "moderate",
      "scale_latency_pressure": "medium"}, "icl"),
]


@pytest.mark.parametrize("name,profile,expected", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_scenario(name, profile, expected):
    rec = recommend(validate_profile(profile))
    assert rec.approach == expected, (name, rec.scores, rec.fired_rules)
    assert rec.reasons and rec.next_steps


def test_every_approach_is_covered_by_scenarios():
    assert {s[2] for s in SCENARIOS} == {"icl", "rag", "fine-tune", "rag+fine-tune"}
    assert len(SCENARIOS) >= 20


def test_knowledge_injection_trap_is_warned():
    rec = recommend(validate_profile({"requires_external_knowledge": True, "preferred_approach": "fine-tune"}))
    assert any("Knowledge-injection trap" in w for w in rec.warnings)
    assert any("had fine-tune in mind" in w for w in rec.warnings)


def test_no_trap_warning_without_external_knowledge():
    rec = recommend(validate_profile({"custom_tone_behavior_style": True, "requires_external_knowledge": False}))
    assert not any("Knowledge-injection" in w for w in rec.warnings)


def test_pretraining_is_named_only_to_rule_it_out():
    rec = recommend(validate_profile({}))
    assert any("Pre-training and continued pre-training are not options" in w for w in rec.warnings)
    assert rec.approach in {"icl", "rag", "fine-tune", "rag+fine-tune"}


def test_reasons_name_the_answers_that_drove_them():
    rec = recommend(validate_profile({"requires_external_knowledge": True, "data_dynamics": "dynamic"}))
    assert any("requires_external_knowledge=True" in r for r in rec.reasons)
    assert any("data_dynamics='dynamic'" in r for r in rec.reasons)


def test_assumed_names_every_missing_field_with_value_and_why():
    rec = recommend(validate_profile({"custom_tone_behavior_style": True}))
    expected_missing = {"requires_external_knowledge", "data_dynamics", "hallucination_tolerance", "labeled_data",
                        "transparency_required", "task_diversity", "scale_latency_pressure",
                        f"{CCE}.budget", f"{CCE}.search_expertise", f"{CCE}.finetuning_experience"}
    assert set(rec.assumed) == expected_missing
    assert all({"value", "why"} <= set(v) for v in rec.assumed.values())


def test_inferred_assumptions_follow_other_answers():
    rec = recommend(validate_profile({"transparency_required": True}))
    assert rec.assumed["requires_external_knowledge"]["value"] is True
    assert rec.assumed["requires_external_knowledge"]["why"].startswith("inferred")
    assert rec.assumed["hallucination_tolerance"]["value"] == "low"


def test_reasons_say_which_unknown_answer_would_change_it():
    rec = recommend(validate_profile({"custom_tone_behavior_style": True}))
    flips = [r for r in rec.reasons if r.startswith("Unknown 'requires_external_knowledge'")]
    assert flips and "rag+fine-tune" in flips[0]


def test_no_sensitivity_lines_when_everything_is_known():
    full = {"requires_external_knowledge": False, "custom_tone_behavior_style": True,
            "hallucination_tolerance": "medium",
            "labeled_data": "hundreds", "data_dynamics": "n/a", "transparency_required": False,
            CCE: {"budget": "medium", "search_expertise": False, "finetuning_experience": True},
            "task_diversity": "narrow", "scale_latency_pressure": "low"}
    rec = recommend(validate_profile(full))
    assert rec.assumed == {} and not any(r.startswith("Unknown") for r in rec.reasons)


def test_every_rule_has_a_source_and_fires_in_some_scenario():
    fired = set()
    for _, profile, _ in SCENARIOS:
        fired |= set(recommend(validate_profile(profile)).fired_rules)
    for rule in RULES:
        assert rule.source.startswith("https://")
        if "baseline_quality" not in rule.when:  # measurement rules: tests/test_advisor_baseline.py
            assert rule.id in fired, f"rule {rule.id} is never exercised"


def test_deterministic():
    profile = validate_profile({"custom_tone_behavior_style": True, "data_dynamics": "dynamic"})
    assert recommend(profile).to_dict() == recommend(profile).to_dict()
