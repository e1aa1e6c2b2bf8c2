"""The interview graph: scripted LLM extraction, follow-up questions, no-LLM guided mode, faults, restart."""
import sqlite3

import httpx
import openai
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

from agent.nodes import AgentDeps, match_choice
from agent.session import Session
from tests.fakes import ScriptedChatModel
from tools.advisor.profile import QUESTIONS
from tools.settings import Settings


def answer_stub(question, profile, model):
    return f"Grounded answer to: {question} [1]"


@pytest.fixture
def settings(tmp_path):
    return Settings(tunesmith_workspace=tmp_path / "ws")


def session_with(settings, model=None, saver=None):
    return Session(settings, deps=AgentDeps(chat_model=model, answer_question=answer_stub),
                   checkpointer=saver or InMemorySaver())


def test_llm_extracts_profile_and_asks_only_what_is_unknown(settings):
    model = ScriptedChatModel(script=[
        "What would you like to build?",  # first questions (asked before the person describes the task)
        {"requires_external_knowledge": True, "data_dynamics": "dynamic", "transparency_required": True},
        "Does the bot need a particular tone? And how many examples do you have?",
        {"custom_tone_behavior_style": False, "labeled_data": "few", "wants_recommendation_now": True},
        "You should use **RAG**: your docs change weekly.",
    ])
    session = session_with(settings, model)
    view = session.new_conversation()
    assert view.waiting and view.stage == "interview"
    view = session.send(view.thread_id, "A support bot answering from our docs, which change weekly; cite sources.")
    assert view.profile == {"requires_external_knowledge": True, "data_dynamics": "dynamic",
                            "transparency_required": True}
    # the follow-up asks only about unknown fields: the prompt lists the next unknown questions
    ask_prompt = model.calls[2][-1].content
    assert "custom tone" in ask_prompt and "knowledge it can't have learned" not in ask_prompt
    view = session.send(view.thread_id, "Neutral tone is fine, we have ~30 examples. Just tell me.")
    assert view.recommendation["approach"] == "rag"
    assert view.stage == "recommended"
    assert view.messages[-1]["content"].startswith("You should use **RAG**")
    assert any(q["label"] == "Start this path" for q in view.quick_replies)


def test_llm_user_question_is_answered_from_the_knowledge_base(settings):
    model = ScriptedChatModel(script=["Tell me about your task.",
                                      {"user_question": "Should I fine-tune or use RAG?"}])
    session = session_with(settings, model)
    view = session.new_conversation()
    view = session.send(view.thread_id, "Should I fine-tune or use RAG?")
    assert view.messages[-1]["content"] == "Grounded answer to: Should I fine-tune or use RAG? [1]"
    assert view.stage == "interview" and view.waiting


def test_invalid_llm_fields_are_ignored(settings):
    model = ScriptedChatModel(script=["Q?", {"labeled_data": "few", "task_diversity": "narrow"}, "Next?"])
    session = session_with(settings, model)
    view = session.send(session.new_conversation().thread_id, "narrow task, a few examples")
    assert view.profile == {"labeled_data": "few", "task_diversity": "narrow"}


def test_guided_interview_without_llm_reaches_a_recommendation(settings):
    session = session_with(settings)
    view = session.new_conversation()
    assert "No LLM endpoint is configured" in view.messages[0]["content"]
    assert "OPENAI_BASE_URL" in view.messages[0]["content"]
    for _ in range(30):
        if view.stage == "recommended":
            break
        choice = next(q for q in view.quick_replies if q["label"] not in ("Don't know", "Recommend now"))
        view = session.send(view.thread_id, choice["reply"])
    assert view.stage == "recommended"
    assert len(view.profile) >= 8  # every question asked once, one at a time
    assert view.recommendation["approach"] in {"icl", "rag", "fine-tune", "rag+fine-tune"}
    assert "My recommendation" in view.messages[-1]["content"]


def test_guided_mode_understands_typed_choices_and_questions(settings):
    session = session_with(settings)
    view = session.new_conversation()
    view = session.send(view.thread_id, "yes")
    assert view.profile == {"requires_external_knowledge": True}
    view = session.send(view.thread_id, "what is RAG?")
    assert view.messages[-1]["content"].startswith("Grounded answer to: what is RAG?")
    view = session.send(view.thread_id, "often")
    assert view.profile["data_dynamics"] == "dynamic"
    view = session.send(view.thread_id, "banana")
    assert "couldn't match that" in view.messages[-1]["content"]
    view = session.send(view.thread_id, {"text": "Don't know", "action": "skip"})
    view = session.send(view.thread_id, {"text": "Recommend now", "action": "recommend"})
    assert view.recommendation["approach"] == "rag"


def test_changing_an_answer_after_the_recommendation_updates_it(settings):
    session = session_with(settings)
    view = session.new_conversation()
    view = session.send(view.thread_id, {"text": "Recommend now", "action": "recommend"})
    assert view.recommendation["approach"] == "icl"
    model_free = session.send(view.thread_id, {"text": "Yes", "field": "requires_external_knowledge", "value": True})
    assert model_free.recommendation["approach"] == "rag"


def test_unreachable_llm_gives_a_clear_message_and_keeps_state(settings):
    request = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    model = ScriptedChatModel(script=[
        "Tell me about your task.",
        openai.APIConnectionError(request=request),  # extraction fails
        openai.APIConnectionError(request=request),  # the next question's wording fails too
    ])
    session = session_with(settings, model)
    view = session.new_conversation()
    view = session.send(view.thread_id, "yes")
    assert "Could not reach the LLM endpoint" in view.notice
    assert view.profile == {"requires_external_knowledge": True}  # fell back to the quick-choice reading
    assert view.waiting and len(view.messages) == 4


def test_resume_value_of_unknown_shape_is_refused(settings):
    session = session_with(settings)
    view = session.new_conversation()
    with pytest.raises(ValueError, match="resume value"):
        session.send(view.thread_id, {"oops": 1})


def test_conversation_survives_restart_on_sqlite(settings):
    def open_saver():
        conn = sqlite3.connect(settings.workspace_file("checkpoints.db"), check_same_thread=False)
        saver = SqliteSaver(conn)
        saver.setup()
        return saver, conn

    saver, conn = open_saver()
    first = session_with(settings, saver=saver)
    view = first.new_conversation()
    view = first.send(view.thread_id, {"text": "Yes", "field": "requires_external_knowledge", "value": True})
    thread_id = view.thread_id
    conn.close()

    saver, conn = open_saver()  # a new process would do the same
    second = session_with(settings, saver=saver)
    assert [c["thread_id"] for c in second.list_conversations()] == [thread_id]
    restored = second.view(thread_id)
    assert restored.profile == {"requires_external_knowledge": True}
    assert restored.messages == view.messages and restored.waiting
    restored = second.send(thread_id, {"text": "Often", "field": "data_dynamics", "value": "dynamic"})
    restored = second.send(thread_id, {"text": "Recommend now", "action": "recommend"})
    assert restored.recommendation["approach"] == "rag"
    conn.close()


def test_match_choice():
    by_field = {q.field: q for q in QUESTIONS}
    assert match_choice("Yes.", by_field["transparency_required"]) is True
    assert match_choice("2", by_field["labeled_data"]) == "few"
    assert match_choice("hundreds", by_field["labeled_data"]) == "hundreds"
    assert match_choice("maybe", by_field["labeled_data"]) is None


def test_reopen_finishes_a_step_cut_short_and_view_never_runs_one(settings):
    session = session_with(settings)
    view = session.new_conversation()
    config = session._config(view.thread_id)
    # simulate a crash after the person's reply was recorded but before understand_reply ran
    session.graph.update_state(config, {"last_reply": {"text": "yes"}, "messages": [
        {"role": "user", "content": "yes"}]}, as_node="wait_for_user")
    assert session.graph.get_state(config).next == ("understand_reply",)
    assert session.view(view.thread_id).profile == {}  # a pure read: nothing ran
    assert session.graph.get_state(config).next == ("understand_reply",)
    reopened = session.reopen(view.thread_id)
    assert reopened.profile == {"requires_external_knowledge": True} and reopened.waiting


def test_guided_mode_reads_plain_statements_and_skips_their_questions(settings):
    session = session_with(settings)
    view = session.new_conversation()
    view = session.send(view.thread_id, "Turn support emails into a JSON ticket; we have ~30 examples")
    assert view.profile == {"custom_tone_behavior_style": True, "labeled_data": "few", "task_diversity": "narrow"}
    noted = next(m["content"] for m in reversed(view.messages) if "From your message I noted" in m["content"])
    assert "(from “30 examples”)" in noted
    asked = [m["content"] for m in view.messages if m["role"] == "assistant"][-1]
    assert "worked examples" not in asked and "format" not in asked  # the next question is about something else
