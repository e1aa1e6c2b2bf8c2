"""The app's review (focus mode) is compare-and-set: a decision made meanwhile in the terminal is shown, not
silently replaced, and deciding again on the refreshed panel replaces it on purpose. Decisions go through the
desk (session.studio); the panel's new state comes back typed, and the tab's outputs by component."""
from __future__ import annotations

from browser_support import workspace_session

from tools.dataset.schema import AlpacaSample
from tools.generation.decisions import DecisionKind
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
