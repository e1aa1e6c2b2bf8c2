"""Every recommendation leads somewhere: each path's first actionable step, the hybrid's order, and going back."""
import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agent.nodes import AgentDeps
from agent.session import Session
from tools.settings import Settings

PROFILES = {
    "icl": [],
    "rag": [("requires_external_knowledge", True)],
    "fine-tune": [("custom_tone_behavior_style", True), ("labeled_data", "hundreds")],
    "rag+fine-tune": [("requires_external_knowledge", True), ("custom_tone_behavior_style", True),
                      ("labeled_data", "hundreds")],
}
FIRST_STAGE = {"icl": ("icl", "Prompt"), "rag": ("rag", "Retrieval"), "fine-tune": ("seeds", "Data studio"),
               "rag+fine-tune": ("rag", "Retrieval")}


def recommended(session, answers):
    tid = session.new_conversation().thread_id
    for field, value in answers:
        session.send(tid, {"text": str(value), "field": field, "value": value})
    return tid, session.send(tid, {"text": "Recommend now", "action": "recommend"})


@pytest.fixture
def session(tmp_path):
    settings = Settings(tunesmith_workspace=tmp_path / "ws", _env_file=None)
    return Session(settings, deps=AgentDeps(answer_question=lambda q, p, m: f"Answer: {q}",
                                            workspace=settings.workspace), checkpointer=InMemorySaver())


@pytest.mark.parametrize("approach", list(PROFILES))
def test_each_path_starts_with_its_first_actionable_step(session, approach):
    tid, view = recommended(session, PROFILES[approach])
    assert view.recommendation["approach"] == approach
    view = session.send(tid, {"text": "Start this path", "action": "start_path"})
    stage, tab = FIRST_STAGE[approach]
    assert view.stage == stage and tab in view.messages[-1]["content"]
    view = session.send(tid, "What is a chunk?")  # a free question mid-flow keeps the stage
    assert view.messages[-1]["content"] == "Answer: What is a chunk?" and view.stage == stage


def test_hybrid_goes_from_retrieval_on_to_fine_tuning(session):
    tid, view = recommended(session, PROFILES["rag+fine-tune"])
    view = session.send(tid, {"text": "Start this path", "action": "start_path"})
    assert "Continue to fine-tuning" in [q["label"] for q in view.quick_replies]
    view = session.send(tid, {"text": "Continue to fine-tuning", "action": "start_finetune"})
    assert view.stage == "seeds" and "Data studio" in view.messages[-1]["content"]
    assert "Generate a batch" in [q["label"] for q in view.quick_replies]


def test_going_back_a_step_after_the_recommendation(session):
    tid, view = recommended(session, PROFILES["fine-tune"])
    view = session.send(tid, {"text": "Start this path", "action": "start_path"})
    # the person revises an answer: the advice is recomputed (back to the recommendation step)
    view = session.send(tid, {"text": "Recommend now", "action": "recommend"})
    assert view.stage == "recommended"
    view = session.send(tid, {"text": "Yes", "field": "requires_external_knowledge", "value": True})
    assert view.recommendation["approach"] == "rag+fine-tune"
