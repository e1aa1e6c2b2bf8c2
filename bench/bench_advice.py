"""The advisor measured on its ground truth, and how fast the first free question is answered without an LLM.

- rules: approach from each scenario's stated profile, exact and acceptable (tests/fixtures/advisor/scenarios.json);
- reading: fields the no-LLM phrase table reads right from each scenario's description, and the approach reached;
- latency: `tunesmith ask` in a fresh process with an empty workspace (the first question ever), then again;
  and in the app's process (modules already imported, as when the app runs), the first and the second question.

Run: `.venv/bin/python bench/bench_advice.py`; merges its figures into bench/results.json under "advice".
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.advisor_scenarios import load_scenarios, score_reading, score_rules  # noqa: E402

RESULTS_FILE = Path(__file__).with_name("results.json")
QUESTION = "Should I fine-tune or use RAG?"
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
           "OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
# The app's process: modules imported at start-up; the clock runs from the question on, as the app's answer does.
APP_SNIPPET = """
import sys, time
from tools.advisor.kb import answer_question, format_answer_markdown
from tools.settings import load_settings
index = load_settings().workspace / "guidance-index"
times = []
for question in sys.argv[1:]:
    start = time.perf_counter()
    format_answer_markdown(answer_question(question, persist_dir=index))
    times.append(time.perf_counter() - start)
print(" ".join(f"{t:.3f}" for t in times))
"""


def _env(workspace: Path) -> dict[str, str]:
    return {**os.environ, **OFFLINE, "TUNESMITH_WORKSPACE": str(workspace)}


def time_cli_ask(workspace: Path) -> float:
    """Wall time of one `tunesmith ask` process, start to exit."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tools.cli", "ask", QUESTION], cwd=ROOT, env=_env(workspace),
                          capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"tunesmith ask failed: {done.stderr[-2000:]}")
    return elapsed


def time_app_answers(workspace: Path) -> list[float]:
    """First and second answer in one process that imported the app's modules before the clock started."""
    done = subprocess.run([sys.executable, "-c", APP_SNIPPET, QUESTION, "How many examples do I need?"], cwd=ROOT,
                          env=_env(workspace), capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"app answer failed: {done.stderr[-2000:]}")
    return [float(t) for t in done.stdout.split()[-2:]]


def measure_latency() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as cli_ws, tempfile.TemporaryDirectory() as app_ws:
        first = time_cli_ask(Path(cli_ws))
        again = time_cli_ask(Path(cli_ws))
        app_first, app_second = time_app_answers(Path(app_ws))
    return {"cli_first_answer_s": round(first, 2), "cli_next_answer_s": round(again, 2),
            "app_first_answer_s": round(app_first, 2), "app_second_answer_s": round(app_second, 2)}


def main() -> int:
    scenarios = load_scenarios()
    rules = score_rules(scenarios)
    reading = score_reading(scenarios)
    latency = measure_latency()
    summary = {
        "cases": rules["cases"], "rules_exact": rules["exact"], "rules_acceptable": rules["acceptable"],
        "stated_fields": reading["stated_fields"], "fields_read_right": reading["fields_right"],
        "fields_read_wrong": reading["fields_wrong"],
        "approach_from_text_acceptable": reading["approach_from_text_acceptable"],
        "approach_after_interview_acceptable": reading["approach_after_interview_acceptable"],
        **latency, "cpu_count": os.cpu_count(),
    }
    results = json.loads(RESULTS_FILE.read_text()) if RESULTS_FILE.exists() else {}
    results["advice"] = summary  # other benchmarks keep their keys
    RESULTS_FILE.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    for miss in rules["misses"]:
        print(f"rules miss: {miss}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
