"""The advice as a person reads it in the app: labels not keys, sentences not code, two sets of quick replies,
a legible flow picture; and the LLM extraction carries every profile field the rules read."""
import re

from langgraph.checkpoint.memory import InMemorySaver

from agent.nodes import AgentDeps
from agent.schemas import ProfileExtraction
from agent.session import Session
from prompts.advisor import EXPLAIN_RECOMMENDATION, EXTRACT_PROFILE
from tests.fakes import ScriptedChatModel
from tools.advisor.flow_diagram import FONT, WIDTH, render_flow_svg
from tools.advisor.profile import QUESTIONS, TaskProfile, flatten, validate_profile
from tools.advisor.recommend import recommend, render_markdown
from tools.settings import Settings
from ui.advisor_tab import render_profile, render_recommendation

RAW = re.compile(r"\b(?:requires_external_knowledge|custom_tone_behavior_style|labeled_data|data_dynamics|"
                 r"transparency_required|task_diversity|scale_latency_pressure|cost_complexity_expertise|"
                 r"hallucination_tolerance)\b|=True|=False")


def test_profile_panel_uses_the_questions_labels_in_question_order():
    text = render_profile({"labeled_data": "hundreds", "requires_external_knowledge": True,
                           "cost_complexity_expertise.budget": "low"})
    assert text.splitlines() == ["- **Needs your own knowledge:** Yes", "- **Worked examples:** Hundreds",
                                 "- **Budget:** Low"]


def test_recommendation_reads_as_sentences_with_every_assumption_and_no_code():
    rec = recommend(validate_profile({"requires_external_knowledge": True, "data_dynamics": "dynamic"})).to_dict()
    for text in (render_recommendation(rec), render_markdown(rec)):
        assert not RAW.search(text), RAW.search(text)
        assert "What would change my mind:" in text and "What I assumed (you did not say):" in text
        assert text.count("To change it, tell me, e.g.") == len(rec["assumed"])
        assert "How your answers add up: retrieval 5 points (needed)" in text
    assert render_recommendation(rec).startswith("### Retrieval-augmented generation (RAG)\n")


def test_flow_picture_text_is_at_least_12px_in_a_420px_column():
    svg = render_flow_svg("rag", {"rag": 5, "fine-tune": 0})
    assert f'viewBox="0 0 {WIDTH} ' in svg and FONT * 420 / WIDTH >= 12
    assert 'data-node="rag" data-taken="true"' in svg
    assert "Points: retrieval 5, fine-tuning 0 (2 make a need)" in svg


def test_two_questions_asked_at_once_get_two_sets_of_quick_replies(tmp_path):
    model = ScriptedChatModel(script=["What would you like to build?", "Two questions for you."] * 3)
    session = Session(Settings(tunesmith_workspace=tmp_path / "ws", _env_file=None),
                      deps=AgentDeps(chat_model=model, answer_question=lambda q, p, m: "answer"),
                      checkpointer=InMemorySaver())
    view = session.new_conversation()
    labels = [r["label"] for r in view.quick_replies]
    assert "Needs your own knowledge: Yes" in labels and "How often that knowledge changes: Rarely (static)" in labels
    answer = next(r["reply"] for r in view.quick_replies if r["label"] == "Needs your own knowledge: Yes")
    view = session.send(view.thread_id, answer)
    labels = [r["label"] for r in view.quick_replies]  # the other question stays open, nothing new is asked
    assert "Often (weekly or faster)" in labels and not any(label.startswith("Needs your own") for label in labels)
    dynamics = next(r["reply"] for r in view.quick_replies if r["label"] == "Often (weekly or faster)")
    view = session.send(view.thread_id, dynamics)
    assert view.profile == {"requires_external_knowledge": True, "data_dynamics": "dynamic"}


def test_llm_extraction_schema_and_prompts_carry_every_field_the_rules_read():
    extracted = set(ProfileExtraction(**{}).profile_fields()) | {
        k if k not in ("budget", "search_expertise", "finetuning_experience") else f"cost_complexity_expertise.{k}"
        for k in ProfileExtraction.model_fields if k not in ("user_question", "wants_recommendation_now")}
    assert set(flatten(TaskProfile().model_dump())) <= extracted
    for name in ("{profile}", "{pending}", "{message}"):
        assert name in EXTRACT_PROFILE
    for name in ("{reasons}", "{warnings}", "{next_steps}", "{changes}", "{assumed}"):
        assert name in EXPLAIN_RECOMMENDATION
    assert all(q.topic and q.example for q in QUESTIONS)


def test_typed_text_answering_one_of_two_questions_keeps_the_other_open(tmp_path):
    model = ScriptedChatModel(script=["What would you like to build?", "Two questions for you.",
                                      {"requires_external_knowledge": True}])
    session = Session(Settings(tunesmith_workspace=tmp_path / "ws", _env_file=None),
                      deps=AgentDeps(chat_model=model, answer_question=lambda q, p, m: "answer"),
                      checkpointer=InMemorySaver())
    view = session.new_conversation()
    view = session.send(view.thread_id, "Yes, it must answer from our own manuals.")
    assert view.profile == {"requires_external_knowledge": True}
    assert view.messages[-1]["content"].startswith("Noted. Still open:")  # no new question, the other one named
    labels = [r["label"] for r in view.quick_replies]
    assert "Often (weekly or faster)" in labels and not any(label.startswith("Needs your own") for label in labels)
