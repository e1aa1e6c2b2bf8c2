"""The app's review (focus mode) is compare-and-set: a decision made meanwhile in the terminal is shown, not
silently replaced, and deciding again on the refreshed panel replaces it on purpose. Decisions go through the
desk (session.studio); the panel's new state comes back typed, and the tab's outputs by component."""
from __future__ import annotations

import pytest
from browser_support import workspace_session

from tools.dataset.schema import AlpacaSample
from tools.errors import UserError
from tools.generation.decisions import Decision, DecisionKind
from tools.generation.store import ReviewStore


def bikes(tmp_path):
    settings, store, session = workspace_session(tmp_path)
    store.save_project("bikes", "Answer bike questions", [AlpacaSample(instruction="Seed?", output="Seed.")])
    store.add_batch("bikes", [AlpacaSample(instruction=f"Which part {i}?", output=f"Part {i}.") for i in range(3)])
    return settings, store, session


def test_focus_mode_shows_a_decision_made_meanwhile_instead_of_overwriting_it(tmp_path):
    import gradio as gr

    from ui.data_tab import DataTab

    settings, store, session = bikes(tmp_path)
    tab = DataTab(session, lambda thread_id: {})
    with gr.Blocks():
        tab.build(gr.State("bikes"), [])
    seen = tab.focus_view("bikes", 0)[tab.focus_seen]  # the person looks at sample 1
    terminal = ReviewStore(settings.workspace_file("tunesmith.db"))
    terminal.reject(seen.id, "wrong part number")  # meanwhile `tunesmith studio review` rejects it

    shown = tab.focus_decide("bikes", seen, DecisionKind.APPROVE, "", "", "", "")
    said = shown[tab.focus_message]
    assert "was changed since you saw it" in said and "wrong part number" in said
    assert store.sample(seen.id).status == "rejected"  # nothing overwritten
    refreshed = shown[tab.focus_seen]
    assert refreshed.status == "rejected" and "rejected" in shown[tab.focus_line]  # the panel shows that decision

    shown = tab.focus_decide("bikes", refreshed, DecisionKind.APPROVE, "", "", "", "")  # deciding again replaces it
    assert store.sample(seen.id).status == "approved"
    assert shown[tab.position] == 1 and "2 pending" in shown[tab.header]  # on to the next pending, counts updated


def test_the_desk_refuses_an_unknown_decision_and_one_on_a_closed_batch(tmp_path):
    settings, store, session = bikes(tmp_path)
    with pytest.raises(UserError, match="unknown decision 'delete'"):
        Decision("delete", (1,))
    ids = [s.id for s in store.batch_samples(store.open_batch("bikes").id)]
    panel = session.studio.decide("bikes", Decision(DecisionKind.APPROVE, tuple(ids), bulk=True))
    assert panel.message == "Approved 3 pending sample(s)." and panel.counts["approved"] == 3
    session.studio.submit_open_batch("bikes")
    panel = session.studio.decide("bikes", Decision(DecisionKind.REJECT, (ids[0],), reason="wrong"))
    assert panel.refused and "already submitted" in panel.message
    assert store.sample(ids[0]).status == "approved"  # nothing written


def test_a_focus_decision_moves_to_the_next_pending_sample_and_wraps_round(tmp_path):
    settings, store, session = bikes(tmp_path)
    samples = store.batch_samples(store.open_batch("bikes").id)
    desk = session.studio
    panel = desk.decide("bikes", Decision(DecisionKind.APPROVE, (samples[1].id,), seen=samples[1]))
    assert (panel.position, panel.message) == (2, "Approved sample 2. 2 pending.")
    panel = desk.decide("bikes", Decision(DecisionKind.REJECT, (samples[2].id,), reason="vague", seen=samples[2]))
    assert panel.position == 0 and panel.counts == {"pending": 1, "approved": 1, "rejected": 1, "edited": 0}
    edited = {**samples[0].current.model_dump(), "output": "Part 0, the chain."}
    panel = desk.decide("bikes", Decision(DecisionKind.EDIT, (samples[0].id,), edited=edited, seen=samples[0]))
    assert panel.message.endswith("All decided: press **Submit batch**.") and panel.counts["edited"] == 1
