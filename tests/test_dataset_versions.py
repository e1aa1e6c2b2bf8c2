"""Dataset versions and conflicts on a real review store: every build is a new folder with its settings honoured,
seeds go in, an edited twin outranks its unedited copy, every drop is listed, conflicts are counted and resolved."""
from __future__ import annotations

import json

import pytest

from tools.dataset.schema import AlpacaSample
from tools.dataset.versions import BuildSettings, build_version, latest_version_path, list_versions
from tools.errors import UserError
from tools.generation.project_dataset import (
    build_project_version,
    flag_twins,
    import_for_review,
    project_conflicts,
    resolve_conflict,
)
from tools.generation.store import ReviewStore

SEEDS = [AlpacaSample(instruction="Rate the urgency of: printer out of paper", output="low"),
         AlpacaSample(instruction="Rate the urgency of: whole office offline", output="high")]
QUESTIONS = [(f"Rate the urgency of: {what}", answer) for what, answer in [
    ("laptop fan is loud", "low"), ("payroll server is down on pay day", "high"),
    ("a monitor flickers now and then", "medium"), ("email to one customer bounced", "medium"),
    ("the VPN drops every hour for the sales team", "medium"), ("coffee machine is broken", "low")]]


@pytest.fixture
def store(tmp_path):
    with ReviewStore(tmp_path / "tunesmith.db") as store:
        store.save_project("p", "Rate ticket urgency as low, medium or high.", SEEDS)
        yield store


def reviewed_batch(store: ReviewStore) -> list[int]:
    batch = store.add_batch("p", [AlpacaSample(instruction=q, output=a) for q, a in QUESTIONS])
    ids = [s.id for s in store.batch_samples(batch.id)]
    for sample_id in ids:
        store.approve(sample_id)
    store.submit_batch(batch.id)  # one batch is open at a time
    return ids


def test_every_build_is_a_new_version_with_the_chosen_settings(store, tmp_path):
    reviewed_batch(store)
    root = tmp_path / "datasets"
    first = build_project_version(store, "p", root, BuildSettings(fmt="sharegpt", eval_fraction=0.3))
    second = build_project_version(store, "p", root, BuildSettings(fmt="openai", eval_fraction=0.0,
                                                                   include_seeds=False, system="Be terse."))
    assert [v["name"] for v in list_versions(root)] == ["v002-reviewed", "v001-reviewed"]
    assert latest_version_path(root) == root / "v002-reviewed"
    v1 = root / "v001-reviewed"
    assert sorted(p.name for p in v1.iterdir()) == ["dataset_info.json", "eval.json", "report.json", "report.md",
                                                   "train.json", "version.json"]
    assert first["format"] == "sharegpt" and "conversations" in json.loads((v1 / "train.json").read_text())[0]
    assert (first["kept"], first["eval"]) == (8, 2)  # 6 approved + 2 seeds; 30% of 8 held out
    meta = json.loads((v1 / "version.json").read_text())
    assert meta["settings"] == {"fmt": "sharegpt", "eval_fraction": 0.3, "system": "", "include_seeds": True,
                                "seed": 42}
    assert {i["source"]: i["rows"] for i in meta["inputs"]} == {"approved samples": 6, "edited samples": 0,
                                                                "seeds": 2}
    assert (second["kept"], second["eval"]) == (6, 0) and second["format"] == "openai"
    rows = [json.loads(line) for line in (root / "v002-reviewed" / "train.jsonl").read_text().splitlines()]
    assert rows[0]["messages"][0] == {"role": "system", "content": "Be terse."}
    assert json.loads((v1 / "report.json").read_text())["out_dir"] == str(v1)  # untouched by the second build


def test_a_failed_build_leaves_earlier_versions_and_no_partial_folder(store, tmp_path):
    root = tmp_path / "datasets"
    build_version([SEEDS[0], SEEDS[1]], root, "file", BuildSettings())
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    with pytest.raises(UserError, match="no valid samples"):
        build_version([broken], root, "file", BuildSettings())
    assert sorted(p.name for p in root.iterdir()) == ["v001-file"]
    with pytest.raises(UserError, match="eval fraction"):
        BuildSettings(eval_fraction=1.5)


def test_edited_twin_outranks_its_unedited_copy_and_the_conflict_is_counted(store, tmp_path):
    ids = reviewed_batch(store)
    later = store.add_batch("p", [AlpacaSample(instruction="Rate the urgency of: laptop fan is loud!", output="low")])
    twin = store.batch_samples(later.id)[0]
    store.edit(twin.id, twin.current.model_copy(update={"output": "medium"}))

    (conflict,) = project_conflicts(store, "p")
    assert conflict.ids == [f"sample:{ids[0]}", f"sample:{twin.id}"]
    assert conflict.kept_by_default == f"sample:{twin.id}"

    report = build_project_version(store, "p", tmp_path / "datasets", BuildSettings(eval_fraction=0))
    assert report["health"]["conflicting_answers"]["count"] == 1
    assert report["dropped_rows"] == [{
        "id": f"sample:{ids[0]}", "reason": "conflicting_answer", "kept": f"sample:{twin.id}",
        "detail": f"same question as sample:{twin.id} with a different answer; sample:{twin.id} was kept "
                  "(resolve the conflict in the Data studio to choose)"}]
    outputs = {s["instruction"]: s["output"] for s in json.loads(
        (tmp_path / "datasets" / "v001-reviewed" / "train.json").read_text())}
    assert outputs["Rate the urgency of: laptop fan is loud!"] == "medium"
    assert "Rate the urgency of: laptop fan is loud" not in outputs
    assert outputs["Rate the urgency of: printer out of paper"] == "low"  # seeds are in


def test_resolving_a_conflict_keep_one_keep_both_merge(store, tmp_path):
    ids = reviewed_batch(store)
    later = store.add_batch("p", [AlpacaSample(instruction="Rate the urgency of: laptop fan is loud", output="high")])
    twin_id = store.batch_samples(later.id)[0].id
    store.approve(twin_id)
    assert len(project_conflicts(store, "p")) == 1

    resolve_conflict(store, [ids[0], twin_id], "keep_both")
    assert project_conflicts(store, "p") == []
    report = build_project_version(store, "p", tmp_path / "d", BuildSettings(eval_fraction=0))
    assert report["kept"] == 9 and report["health"]["conflicting_answers"]["count"] == 0

    store.set_tags(ids[0], []), store.set_tags(twin_id, [])
    with pytest.raises(UserError, match="write the merged answer"):
        resolve_conflict(store, [ids[0], twin_id], "merge", keep_id=ids[0])
    message = resolve_conflict(store, [ids[0], twin_id], "merge", keep_id=ids[0], merged_output="medium")
    assert message.startswith(f"Merged into sample {ids[0]}")
    assert store.sample(ids[0]).current.output == "medium" and store.sample(ids[0]).status == "edited"
    assert store.sample(twin_id).status == "rejected" and store.sample(twin_id).reason.startswith("conflict:")
    assert project_conflicts(store, "p") == []


def test_twins_are_flagged_when_a_batch_arrives_and_imports_never_replace_reviewed_work(store):
    ids = reviewed_batch(store)
    store.submit_batch(store.sample(ids[0]).batch_id)
    batch, twins = import_for_review(store, "p", [
        AlpacaSample(instruction="Rate the urgency of: coffee machine is broken", output="medium"),
        AlpacaSample(instruction="Rate the urgency of: printer out of paper", output="low"),
        AlpacaSample(instruction="Rate the urgency of: the lift is stuck with people inside", output="high")])
    assert twins == 2
    tags = [s.tags for s in store.batch_samples(batch.id)]
    assert tags[0][0].startswith("duplicate of ") and tags[1] == ["duplicate of seed 1"] and tags[2] == []
    assert [s.status for s in store.batch_samples(batch.id)] == ["pending"] * 3
    assert len(store.accepted_samples("p")) == 6  # reviewed work untouched
    with pytest.raises(UserError, match="still under review"):
        import_for_review(store, "p", SEEDS)
    assert flag_twins(store, "p", batch) == 2  # idempotent count; tags are not doubled
    assert store.batch_samples(batch.id)[1].tags == ["duplicate of seed 1"]
