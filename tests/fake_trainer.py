"""Stands in for `python -m tools.training.train --config RUN/config.json` in app tests: the same run folder
protocol (progress events to done, a LoRA adapter folder), no model, a second."""
import json
import sys
import time
from pathlib import Path

STEPS = 4

if __name__ == "__main__":
    config_path = Path(sys.argv[sys.argv.index("--config") + 1])
    config = json.loads(config_path.read_text(encoding="utf-8"))
    run = config_path.parent

    def event(name: str, **fields) -> None:
        with (run / "progress.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"event": name, **fields}) + "\n")

    event("start", step=0, max_steps=STEPS, message=f"parent_run={config.get('parent_run')}")
    for step in range(1, STEPS + 1):
        time.sleep(0.1)
        event("log", step=step, max_steps=STEPS, loss=round(2.0 / step, 4))
    adapter = run / "adapter"
    adapter.mkdir(exist_ok=True)
    (adapter / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA",
                                                             "base_model_name_or_path": config["base_model"]}))
    event("done", step=STEPS, max_steps=STEPS)
