"""Zero-shot vs few-shot baseline with a scripted model, and how its verdict moves the recommendation."""
import pytest

from tests.fakes import ScriptedChatModel
from tools.advisor.baseline import render_baseline_markdown, run_baseline
from tools.advisor.profile import validate_profile
from tools.advisor.recommend import recommend
from tools.dataset.schema import AlpacaSample
from tools.errors import UserError

EXAMPLES = [AlpacaSample(instruction="Label the ticket.", input=f"ticket {i}: {t}", output=label)
            for i, (t, label) in enumerate([("refund please", "billing"), ("app crashes", "bug"),
                                            ("charged twice", "billing"), ("login fails", "bug"),
                                            ("invoice copy", "billing"), ("button broken", "bug"),
                                            ("price question", "billing"), ("error 500", "bug")])]


def test_few_shot_beats_zero_shot():
    # 3 held out: zero-shot answers are wrong, few-shot answers copy the reference label
    held_out = run_baseline(ScriptedChatModel(script=["x"] * 6), "Label support tickets.", EXAMPLES, holdout=3)
    references = [row["reference"] for row in held_out["rows"]]
    script = []
    for ref in references:
        script += ["I am not sure.", ref.upper() + "."]
    result = run_baseline(ScriptedChatModel(script=script), "Label support tickets.", EXAMPLES, holdout=3)
    assert result["metric"] == "exact_match" and result["n"] == 3
    assert result["scores"] == {"zero_shot": 0.0, "few_shot": 1.0}
    assert result["verdict"] == "good"
    assert "few-shot: 100%" in render_baseline_markdown(result)


def test_few_shot_prompt_holds_examples_but_not_the_held_out_answer():
    model = ScriptedChatModel(script=["a"] * 4)
    run_baseline(model, "Label support tickets.", EXAMPLES, holdout=2, shots=4)
    few_shot_prompt = model.calls[1][-1].content
    assert "Label support tickets." in few_shot_prompt and few_shot_prompt.count("ticket ") >= 4


def test_too_few_examples_is_a_clear_error():
    with pytest.raises(UserError, match="at least 7 examples"):
        run_baseline(ScriptedChatModel(script=[]), "t", EXAMPLES[:4], holdout=5)


def test_verdict_moves_the_recommendation():
    profile = validate_profile({"custom_tone_behavior_style": True, "task_diversity": "narrow",
                                "labeled_data": "hundreds"})
    assert recommend(profile).approach == "fine-tune"
    assert recommend(profile, baseline={"verdict": "good"}).approach == "icl"
    narrow = validate_profile({"task_diversity": "narrow", "labeled_data": "hundreds"})
    assert recommend(narrow).approach == "icl"
    poor = recommend(narrow, baseline={"verdict": "poor"})
    assert poor.approach == "fine-tune" and "baseline-poor" in poor.fired_rules
