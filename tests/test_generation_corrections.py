"""Edits are taught as examples: the next request carries each edit as a before -> after pair with what was wrong,
notes that contradict each other are reconciled (newest wins, said in the note), and the request the panel shows is
the one the generator receives, word for word."""

from __future__ import annotations

from langchain_openai import ChatOpenAI
from openai_stub import openai_stub_fixture  # noqa: F401  (the openai_stub fixture)

from agent.data_studio import DataStudio
from tools.dataset.schema import AlpacaSample
from tools.generation.notes import merge_notes
from tools.generation.rounds import generate_next_batch, learn_from_batch, next_batch_request
from tools.generation.store import ReviewStore
from tools.workspace import Workspace

SEEDS = [AlpacaSample(instruction=f"Write a tagline for the {w} line", output=f"{w.title()}: built right.")
         for w in ("granite", "orchid", "falcon")]
LONG = "Granite is a product line that has been built to last through every season, storm and year of use."
SHORT = "Granite: built to last."


def draft(store: ReviewStore, outputs: list[str]):
    batch = store.add_batch("t1", [AlpacaSample(instruction=f"Write a tagline for product {i}", output=text)
                                   for i, text in enumerate(outputs)])
    return batch, store.batch_samples(batch.id)


def test_an_edit_reaches_the_next_request_as_a_before_after_pair_with_what_was_wrong(tmp_path):
    with ReviewStore(tmp_path / "t.db") as store:
        store.save_project("t1", "Write taglines.", SEEDS)
        batch, (first, second) = draft(store, [LONG, "Orchid: grown with care."])
        store.edit(first.id, {**first.current.to_record(), "output": SHORT})
        store.edit(second.id, {**second.current.to_record(), "output": "Orchid: grown with love."})
        assert "<corrections>\n" in next_batch_request(store, "t1")  # open batch: its edits are not lessons yet
        assert LONG not in next_batch_request(store, "t1")
        learn_from_batch(store, batch.id)
        request = next_batch_request(store, "t1")
    corrections = request.split("<corrections>")[1].split("</corrections>")[0]
    assert ('- What was wrong: the output was too long (19 words, cut to 4)\n'
            '  Case: "Write a tagline for product 0"\n'
            f'  output before: "{LONG}"\n'
            f'  output after: "{SHORT}"') in corrections
    assert ("- What was wrong: in the output, 'care' should be 'love'\n"
            '  Case: "Write a tagline for product 1"\n'
            '  output before: "Orchid: grown with care."\n'
            '  output after: "Orchid: grown with love."') in corrections


def test_contradicting_notes_are_reconciled_newest_wins_and_the_note_says_so(tmp_path):
    with ReviewStore(tmp_path / "t.db") as store:
        store.save_project("t1", "Write taglines.", SEEDS)
        batch, (first,) = draft(store, [LONG])
        store.edit(first.id, {**first.current.to_record(), "output": SHORT})
        assert learn_from_batch(store, batch.id)[0].startswith("Reviewers shortened outputs: keep them shorter")
        batch, (second,) = draft(store, ["Falcon: fast."])
        store.edit(second.id, {**second.current.to_record(), "output": "Falcon: fast, light and built for speed."})
        notes = learn_from_batch(store, batch.id)
        request = next_batch_request(store, "t1")
    assert not [note for note in notes if note.startswith("Reviewers shortened")]
    lengthened = next(note for note in notes if note.startswith("Reviewers lengthened outputs"))
    assert lengthened.endswith('(replaces the earlier note "Reviewers shortened outputs: keep them shorter and to '
                               'the point.")')
    feedback = request.split("<feedback>")[1].split("</feedback>")[0]
    assert "Reviewers lengthened outputs" in feedback and "- Reviewers shortened" not in feedback
    # both corrections stay as examples: each shows what the reviewer wanted for its own case
    assert request.count("- What was wrong:") == 2


def test_a_word_swap_and_its_reversal_contradict_and_the_person_notes_stay():
    old = ["In the output, write 'colour' instead of 'color'.", "Keep a friendly tone."]
    merged = merge_notes(old, ["In the output, write 'color' instead of 'colour'. (for cases like \"x\")",
                               "Do not write 'friendly' in the output."])
    assert merged == ["Keep a friendly tone.",
                      "In the output, write 'color' instead of 'colour'. (for cases like \"x\") (replaces the earlier "
                      "note \"In the output, write 'colour' instead of 'color'.\")",
                      "Do not write 'friendly' in the output."]


def test_the_request_carries_the_newest_eight_corrections_and_says_how_many_more(tmp_path):
    with ReviewStore(tmp_path / "t.db") as store:
        store.save_project("t1", "Write taglines.", SEEDS)
        batch, drafted = draft(store, [f"Line {i}: made well." for i in range(10)])
        for sample in drafted:
            store.edit(sample.id, {**sample.current.to_record(), "output": sample.current.output.replace("well",
                                                                                                          "right")})
        learn_from_batch(store, batch.id)
        request = next_batch_request(store, "t1")
    assert request.count("- What was wrong:") == 8
    assert '"Line 0: made well."' not in request and '"Line 1: made well."' not in request  # the two oldest
    assert '"Line 2: made well."' in request and '"Line 9: made right."' in request
    assert "(2 earlier correction(s) not shown; the newest 8 are above.)" in request


def test_the_panel_shows_word_for_word_the_request_the_generator_receives(tmp_path, openai_stub):
    openai_stub.script({"samples": [{"instruction": f"Write a tagline for the line number {i * 37}",
                                     "output": f"Line {i * 37}: built right."} for i in range(20)]})
    workspace = Workspace(tmp_path / "ws")
    with ReviewStore(tmp_path / "t.db") as store:
        store.save_project("t1", "Write taglines.", SEEDS)
        batch, (first,) = draft(store, [LONG])
        store.edit(first.id, {**first.current.to_record(), "output": SHORT})
        learn_from_batch(store, batch.id)
        panel = DataStudio(store, workspace).next_request("t1")
        model = ChatOpenAI(base_url=openai_stub.base_url, api_key="k", model="m", max_retries=0)
        generate_next_batch(store, "t1", model, backoff_s=0)  # 20, as the panel says
    assert openai_stub.user_prompts()[0] == panel
    assert f'output after: "{SHORT}"' in panel


def test_within_one_batch_the_edit_made_last_wins(tmp_path):
    import time

    with ReviewStore(tmp_path / "t.db") as store:
        store.save_project("t1", "Write taglines.", SEEDS)
        batch, (first, second) = draft(store, ["Falcon: fast.", LONG])
        store.edit(second.id, {**second.current.to_record(), "output": SHORT})  # made first
        time.sleep(1.1)  # decisions are timed to the second
        store.edit(first.id, {**first.current.to_record(), "output": "Falcon: fast, light and built for speed."})
        notes = learn_from_batch(store, batch.id)
    assert not [note for note in notes if note.startswith("Reviewers shortened")]
    assert [note for note in notes if note.startswith("Reviewers lengthened outputs")][0].endswith(
        '(replaces the earlier note "Reviewers shortened outputs: keep them shorter and to the point.")')


def test_a_missing_word_put_back_is_a_word_lesson_not_a_length_lesson(tmp_path):
    with ReviewStore(tmp_path / "t.db") as store:
        store.save_project("t1", "Write taglines.", SEEDS)
        batch, (first,) = draft(store, ["Orchid: grown with care."])
        store.edit(first.id, {**first.current.to_record(), "output": "Orchid: grown with great care."})
        notes = learn_from_batch(store, batch.id)
        request = next_batch_request(store, "t1")
    assert [note.split(" (for cases like")[0] for note in notes] == [
        "In the output, write 'great care' instead of 'care'."]
    assert "- What was wrong: in the output, 'care' should be 'great care'\n" in request
