"""`tunesmith advise`: JSON schema, readable report, interactive questions, and bad profiles."""
import io
import json
import subprocess
import sys

import pytest

from tools.cli import main


def write(tmp_path, text, name="profile.json"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_json_output_has_the_schema(tmp_path, capsys):
    path = write(tmp_path, json.dumps({"requires_external_knowledge": True, "data_dynamics": "dynamic"}))
    assert main(["advise", "--profile", path, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["approach"] == "rag"
    assert {"approach", "reasons", "warnings", "next_steps", "assumed"} <= set(out)
    assert out["assumed"]["custom_tone_behavior_style"]["value"] is False


def test_partial_profile_gets_a_recommendation(tmp_path, capsys):
    path = write(tmp_path, "{}")
    assert main(["advise", "--profile", path, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["approach"] == "icl"


def test_readable_report(tmp_path, capsys):
    path = write(tmp_path, json.dumps({"custom_tone_behavior_style": True, "labeled_data": "hundreds"}))
    assert main(["advise", "--profile", path]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Recommendation: Parameter-efficient fine-tuning (QLoRA)\n")
    assert "  - You said answers must follow a custom tone, vocabulary, behaviour or strict format: " in out
    assert "What would change my mind:\n  - If the answers need knowledge the model can't have learned" in out
    assert "What I assumed (you did not say):" in out and "Next steps:" in out
    assert ('  - Budget: Medium (the middle answer). To change it, set "budget" to one of "low", "medium", "high" '
            'under "cost_complexity_expertise" in your profile file.') in out
    assert "How your answers add up: retrieval 0 points (not needed), fine-tuning 4 points (needed)" in out
    assert "requires_external_knowledge" not in out.split("What I assumed")[0]  # no field names in the advice


@pytest.mark.parametrize("text,needle", [
    ("{not json", "is not valid JSON"),
    (json.dumps({"hallucination_tolerance": "lowish"}), "allowed values: low, medium, high"),
    (json.dumps({"labeled_data": 300}), "field 'labeled_data': 300 is not allowed"),
    (json.dumps({"data_dynamic": "static"}), "unknown field 'data_dynamic' (did you mean 'data_dynamics'?)"),
    (json.dumps({"cost_complexity_expertise": {"budget": "huge"}}), "field 'cost_complexity_expertise.budget'"),
    (json.dumps([1, 2]), "expected a JSON object"),
])
def test_malformed_profile_exits_1_with_the_field_named(tmp_path, capsys, text, needle):
    path = write(tmp_path, text)
    assert main(["advise", "--profile", path, "--json"]) == 1  # the file was read; its content is wrong
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_missing_and_non_utf8_files(tmp_path, capsys):
    assert main(["advise", "--profile", str(tmp_path / "nope.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "latin1.json"
    bad.write_bytes('{"x": "caf\xe9"}'.encode("latin-1"))
    assert main(["advise", "--profile", str(bad)]) == 1
    assert "not UTF-8" in capsys.readouterr().err


def test_interactive_questions(monkeypatch, capsys):
    # Yes (external knowledge), Often (dynamic), then unknown for the rest (end of input).
    monkeypatch.setattr(sys, "stdin", io.StringIO("1\n2\n"))
    assert main(["advise", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["approach"] == "rag"
    assert "How often does that knowledge change?" in captured.err


def test_interactive_reprompts_on_bad_answer(monkeypatch, capsys):
    # No external knowledge (so no question on how it changes), custom style: Yes, two skipped, hundreds of examples.
    monkeypatch.setattr(sys, "stdin", io.StringIO("9\nabc\n2\n1\n\n\n3\n"))
    assert main(["advise"]) == 0
    out = capsys.readouterr().out
    assert out.count("Please type a number from 1 to 2") == 2
    assert "Recommendation: Parameter-efficient fine-tuning (QLoRA)" in out
    assert "To change it, answer that question instead of pressing Enter." in out
    assert "How often does that knowledge change?" not in out


def test_console_script_runs_as_a_process(tmp_path):
    path = write(tmp_path, json.dumps({"custom_tone_behavior_style": True, "task_diversity": "narrow",
                                       "labeled_data": "hundreds"}))
    done = subprocess.run([sys.executable, "-m", "tools.cli", "advise", "--profile", path, "--json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["approach"] == "fine-tune"
    bad = write(tmp_path, '{"task_diversity": "wide"}', "bad.json")
    done = subprocess.run([sys.executable, "-m", "tools.cli", "advise", "--profile", bad],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "allowed values: narrow, moderate, broad" in done.stderr
    assert "Traceback" not in done.stderr
