"""RAG + fine-tuning on a small fictional document set: base + RAG vs tuned + RAG on the built-in gemma-3-270m.

bench/rag_docs holds 15 short documents about the homes of a made-up rental agency (so the base model cannot know
the facts) and facts.json, one line per fact. 100 training rows are built from them without an LLM: templated
questions per fact, the chunk holding the fact among the chunks the index retrieves for the question (k=3, at a
random place, cited as [n]); 20 of them without it (the answer: the passages do not answer). 30 held-out
questions: 24 on facts no training row asks (their chunks are in the index), 6 that no passage answers. The model
trains with the defaults (load_config + start_training, as bench_suite.py does), then evaluate_run asks every held-out
question with the passages the same index retrieves for it now (tools/rag/raft_eval.py).

Records answer exact match (citations aside), citation correctness (cites the passage that answers, and no other)
and no-answer correctness in bench/results.json["rag_finetune"]. Target: tuned + RAG beats base + RAG on exact
match and citations.

    python bench/bench_rag_ft.py [--keep DIR] [--set '{"lora_dropout": 0.05}']
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DOCS = ROOT / "bench" / "rag_docs"
RESULTS = ROOT / "bench" / "results.json"
KEY = "rag_finetune"
K, MAX_CHARS, OVERLAP = 3, 140, 0  # a fact or two a chunk: three passages keep a row near 170 tokens (CPU time)
TEMPLATES = {
    "checkin": ["When does check-in start at {p}?", "What time can I check in at {p}?"],
    "deposit": ["How much is the deposit for {p}?", "What deposit does {p} ask for?"],
    "guests": ["How many guests can stay at {p}?", "What is the most people {p} can host?"],
    "host": ["Who is the host of {p}?", "Who looks after guests at {p}?"],
    "station": ["Which train station is nearest to {p}?", "What is the closest station to {p}?"],
}
UNANSWERABLE = ["What is the wifi password at {p}?", "Is there parking at {p}?", "Does {p} have a sauna?"]
ATTRIBUTES = list(TEMPLATES)


def held_out(home: int, attribute: str) -> bool:
    """Two facts of each of the first 12 homes are held out, turn by turn over the attributes (24 in all)."""
    return home < 12 and ATTRIBUTES.index(attribute) in ((2 * home) % 5, (2 * home + 1) % 5)


def build_rows(index) -> tuple[list, list]:
    """(100 training rows, 30 held-out rows), the same on every run."""
    from prompts.raft import NO_ANSWER
    from tools.dataset.schema import AlpacaSample
    from tools.rag.raft import retrieval_input, retrieval_sample

    chunks = index.chunks()
    facts = json.loads((DOCS / "facts.json").read_text(encoding="utf-8"))["facts"]
    homes = list(dict.fromkeys(f["place"] for f in facts))

    def oracle(fact: dict):
        return next(c for c in chunks if Path(c.source).name == fact["doc"] and fact["answer"] in c.text)

    def row(fact: dict, phrasing: int, answerable: bool = True):
        question = TEMPLATES[fact["attribute"]][phrasing].format(p=fact["place"])
        return retrieval_sample(index, question, fact["answer"], oracle(fact), K, answerable)

    trained = [f for f in facts if not held_out(homes.index(f["place"]), f["attribute"])]
    kept_back = [f for f in facts if held_out(homes.index(f["place"]), f["attribute"])]
    second = random.Random(0).sample(trained, len(trained))  # which facts get their second phrasing, and how
    train = ([row(f, 0) for f in trained] + [row(f, 1) for f in second[:29]]
             + [row(f, 1, answerable=False) for f in second[29:49]])
    unanswerable = [UNANSWERABLE[h % 3].format(p=homes[h]) for h in range(6)]
    evaluation = [row(f, 0) for f in kept_back] + [
        AlpacaSample(instruction=q, input=retrieval_input(index.search(q, K)), output=NO_ANSWER) for q in unanswerable]
    return train, evaluation


def run(work: Path, settings: dict) -> dict:
    from tools.embeddings import EMBEDDING_MODEL
    from tools.rag.index import DocumentIndex
    from tools.rag.raft import RetrievalSettings
    from tools.training.builtin import BUILTIN_NAME
    from tools.training.config import load_config
    from tools.training.evaluate import evaluate_run
    from tools.training.launch import start_training

    index = DocumentIndex(work / "index", "rag-bench")
    index.add_documents(sorted(DOCS.glob("*.md")), MAX_CHARS, OVERLAP)
    train, evaluation = build_rows(index)
    data = work / "data"
    data.mkdir(parents=True)
    for name, rows in (("train.json", train), ("eval.json", evaluation)):
        (data / name).write_text(json.dumps([r.to_record() for r in rows], indent=1, ensure_ascii=False))
    RetrievalSettings(str(work / "index"), "rag-bench", EMBEDDING_MODEL, K, MAX_CHARS, OVERLAP).save(data)
    started = time.monotonic()
    config = load_config(base_model=BUILTIN_NAME, data_dir=str(data), out_dir=str(work / "run"), **settings)
    process = start_training(config)
    if process.wait() != 0:
        raise SystemExit(f"training did not finish; see {process.log_path}")
    trained = time.monotonic()
    result = evaluate_run(config.out_dir, max_samples=30)
    retrieval = result["retrieval"]
    if "error" in retrieval:
        raise SystemExit(f"the retrieval evaluation failed: {retrieval['error']}")
    return {
        "documents": len(list(DOCS.glob("*.md"))), "chunks": index.count(), "k": K,
        "chunking": {"max_chars": MAX_CHARS, "overlap": OVERLAP}, "train_rows": len(train),
        "train_rows_without_answer": sum(r.output.startswith("The passages do not") for r in train),
        "held_out": retrieval["questions"], "held_out_answerable": retrieval["answerable"],
        "retrieved_the_answer": retrieval["retrieved_the_answer"],
        "plan": {k: getattr(config, k) for k in ("learning_rate", "epochs", "batch_size", "grad_accum", "lora_r",
                                                 "lora_dropout")},
        "base_rag": retrieval["base"], "tuned_rag": retrieval["tuned"],
        "without_retrieval": {"base_exact": result["base"]["exact_match"],
                              "tuned_exact": result["tuned"]["exact_match"]},
        "examples": retrieval["examples"][:4] + retrieval["examples"][-2:],
        "minutes_to_train": round((trained - started) / 60, 2),
        "minutes_total": round((time.monotonic() - started) / 60, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="folder to keep the index, data and run in (default: a temporary folder)")
    parser.add_argument("--set", default="{}", help="settings as JSON on top of the defaults (experiments only: "
                                                    "such a run is not recorded)")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="tunesmith-rag-ft-"))
    settings = json.loads(args.set)
    row = run(work, settings)
    print(json.dumps(row, indent=1), flush=True)
    if settings:
        print("experiment settings given: bench/results.json left as it is")
        return
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results[KEY] = {**row, "machine": f"{os.cpu_count()}-core CPU", "model": "gemma-3-270m (built in)",
                    "settings": "defaults only (the plan)", "measured": time.strftime("%Y-%m-%d %H:%M")}
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    base, tuned = row["base_rag"], row["tuned_rag"]
    if not (tuned["exact_match"] > base["exact_match"] and tuned["citation"] > base["citation"]):
        raise SystemExit("tuned + RAG did not beat base + RAG on exact match and citations")


if __name__ == "__main__":
    main()
