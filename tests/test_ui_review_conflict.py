"""The app's review (focus mode) is compare-and-set: a decision made meanwhile in the terminal is shown, not
silently replaced, and deciding again on the refreshed panel replaces it on purpose."""
from __future__ import annotations

from browser_support import workspace_session

from tools.dataset.schema import AlpacaSample
from tools.generation.store import ReviewStore


def test_focus_mode_shows_a_decision_made_meanwhile_instead_of_overwriting_it(tmp_path):
    from ui.data_tab import DataTab

    settings, store, session = workspace_session(tmp_path)
    store.save_project("bikes", "Answer bike questions", [AlpacaSample(instruction="Seed?", output="Seed.")])
    store.add_batch("bikes", [AlpacaSample(instruction=f"Which part {i}?", output=f"Part {i}.") for i in range(3)])
    tab = DataTab(session, lambda thread_id: [])
    position, seen, *_ = tab.focus_view("bikes", 0)  # the person looks at sample 1
    terminal = ReviewStore(settings.workspace_file("tunesmith.db"))
    terminal.reject(seen.id, "wrong part number")  # meanwhile `tunesmith studio review` rejects it

    view = tab.focus_decide("bikes", position, seen, "approve", "", "", "", "")
    message = view[-1]
    assert "was changed since you saw it" in message and "wrong part number" in message
    assert store.sample(seen.id).status == "rejected"  # nothing overwritten
    refreshed = view[1]
    assert refreshed.status == "rejected" and "rejected" in view[2]  # the panel now shows that decision

    tab.focus_decide("bikes", position, refreshed, "approve", "", "", "", "")  # deciding again replaces it
    assert store.sample(seen.id).status == "approved"
