"""Wiring only: the journey, readable top to bottom. Compile at the edge with a checkpointer.

Three pauses wait for an Action (agent/actions.py): wait_for_user (the chat), review_batch (a batch is open) and
approve_training (a checked plan). agent/routes.py says where each action goes from each; typed words go through
understand_reply, which may read them as a step and send them on as that step's action; nodes that answer,
refuse or record something return to the pause the action came from (route_back).
"""
from __future__ import annotations

from langgraph.graph import START, StateGraph

from agent.finetune_nodes import (
    FinetuneNodes,
    route_after_dataset,
    route_after_feedback,
    route_after_generation,
    route_back,
)
from agent.improve_nodes import ImproveNodes, route_after_improvement
from agent.nodes import AgentDeps, InterviewNodes, route_after_plan, route_after_reading
from agent.pause_nodes import PauseNodes, route_after_baseline
from agent.routes import route_from_approval, route_from_review, route_from_wait
from agent.run_request_nodes import RunRequestNodes
from agent.state import AgentState
from agent.training_nodes import TrainingNodes, route_after_preparation


def build_graph(deps: AgentDeps) -> StateGraph:
    nodes = InterviewNodes(deps)
    pauses = PauseNodes(deps.store)
    training = TrainingNodes(deps.workspace)
    finetune = FinetuneNodes(deps.store, deps.generation_model or deps.chat_model, deps.workspace)
    improve = ImproveNodes(deps.store, deps.generation_model or deps.chat_model)
    requests = RunRequestNodes()
    graph = StateGraph(AgentState)
    # the interview and the advice
    graph.add_node("start_conversation", nodes.start_conversation)
    graph.add_node("plan_questions", nodes.plan_questions)
    graph.add_node("wait_for_user", nodes.wait_for_user)  # pause
    graph.add_node("understand_reply", nodes.understand_reply)
    graph.add_node("clarify", nodes.clarify)
    graph.add_node("answer_free_question", nodes.answer_free_question)
    graph.add_node("recommend_approach", nodes.recommend_approach)
    graph.add_node("explain_recommendation", nodes.explain_recommendation)
    graph.add_node("start_path", nodes.start_path)
    graph.add_node("explain_not_now", pauses.explain_not_now)
    graph.add_node("record_baseline", pauses.record_baseline)
    # fine-tune path
    graph.add_node("generate_samples", finetune.generate_samples)
    graph.add_node("review_batch", finetune.review_batch)  # pause
    graph.add_node("record_feedback", finetune.record_feedback)
    graph.add_node("build_training_dataset", finetune.build_training_dataset)
    # training
    graph.add_node("prepare_training", training.prepare_training)
    graph.add_node("approve_training", training.approve_training)  # pause
    graph.add_node("start_training", training.start_training)
    graph.add_node("record_run_end", training.record_run_end)
    graph.add_node("record_evaluation", training.record_evaluation)
    graph.add_node("resume_training", training.resume_training)
    graph.add_node("cancel_training", training.cancel_training)
    # what the person can ask of the last run in words: its evaluation again, try it, export it
    graph.add_node("report_evaluation", requests.report_evaluation)
    graph.add_node("try_model", requests.try_model)
    graph.add_node("export_model", requests.export_model)
    # a new round from the tuned model's mistakes: notes → the fine-tune path's batch → dataset → proposal
    graph.add_node("start_improvement", improve.start_improvement)

    graph.add_edge(START, "start_conversation")
    graph.add_edge("start_conversation", "plan_questions")
    graph.add_conditional_edges("plan_questions", route_after_plan)
    # each pause routes every action explicitly
    graph.add_conditional_edges("wait_for_user", route_from_wait)
    graph.add_conditional_edges("review_batch", route_from_review)
    graph.add_conditional_edges("approve_training", route_from_approval)
    graph.add_conditional_edges("understand_reply", route_after_reading)
    graph.add_edge("recommend_approach", "explain_recommendation")
    graph.add_edge("explain_recommendation", "wait_for_user")
    graph.add_edge("start_path", "wait_for_user")
    # fine-tune path: draft 20 → review (pause) → error notes → ... → dataset
    graph.add_conditional_edges("generate_samples", route_after_generation)
    graph.add_conditional_edges("record_feedback", route_after_feedback)
    graph.add_conditional_edges("build_training_dataset", route_after_dataset)
    # training: proposal + preflight → approval (pause) → subprocess; the session's watcher reports its end
    graph.add_conditional_edges("prepare_training", route_after_preparation)
    graph.add_edge("start_training", "wait_for_user")
    # Improve: error notes from the evaluation → draft a batch; its submission builds a version (leaving the
    # held-out rows out) and proposes a run that continues the improved one
    graph.add_conditional_edges("start_improvement", route_after_improvement)
    # back to the pause the action came from
    graph.add_conditional_edges("record_baseline", route_after_baseline)
    for node in ("answer_free_question", "clarify", "explain_not_now", "record_run_end", "record_evaluation",
                 "resume_training", "cancel_training", "report_evaluation", "try_model", "export_model"):
        graph.add_conditional_edges(node, route_back)
    return graph
