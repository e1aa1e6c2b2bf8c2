"""Wiring only: the journey, readable top to bottom. Compile at the edge with a checkpointer."""
from __future__ import annotations

from langgraph.graph import START, StateGraph

from agent.finetune_nodes import (
    FinetuneNodes,
    route_after_feedback,
    route_after_generation,
    route_after_review,
)
from agent.nodes import AgentDeps, InterviewNodes, route_after_answer, route_after_plan, route_after_reply
from agent.state import AgentState
from agent.training_nodes import TrainingNodes, route_after_approval, route_after_preparation


def build_graph(deps: AgentDeps) -> StateGraph:
    nodes = InterviewNodes(deps)
    training = TrainingNodes(deps.workspace)
    finetune = FinetuneNodes(deps.store, deps.generation_model or deps.chat_model, deps.workspace)
    graph = StateGraph(AgentState)
    graph.add_node("start_conversation", nodes.start_conversation)
    graph.add_node("plan_questions", nodes.plan_questions)
    graph.add_node("wait_for_user", nodes.wait_for_user)
    graph.add_node("understand_reply", nodes.understand_reply)
    graph.add_node("clarify", nodes.clarify)
    graph.add_node("answer_free_question", nodes.answer_free_question)
    graph.add_node("recommend_approach", nodes.recommend_approach)
    graph.add_node("explain_recommendation", nodes.explain_recommendation)
    graph.add_node("start_path", nodes.start_path)
    graph.add_node("generate_samples", finetune.generate_samples)
    graph.add_node("review_batch", finetune.review_batch)
    graph.add_node("record_feedback", finetune.record_feedback)
    graph.add_node("build_training_dataset", finetune.build_training_dataset)
    graph.add_node("prepare_training", training.prepare_training)
    graph.add_node("approve_training", training.approve_training)
    graph.add_node("start_training", training.start_training)
    graph.add_node("evaluate_training", training.evaluate_training)

    graph.add_edge(START, "start_conversation")
    graph.add_edge("start_conversation", "plan_questions")
    graph.add_conditional_edges("plan_questions", route_after_plan)
    graph.add_edge("wait_for_user", "understand_reply")
    graph.add_conditional_edges("understand_reply", route_after_reply)
    graph.add_edge("clarify", "wait_for_user")
    graph.add_conditional_edges("answer_free_question", route_after_answer)
    graph.add_edge("recommend_approach", "explain_recommendation")
    graph.add_edge("explain_recommendation", "wait_for_user")
    graph.add_edge("start_path", "wait_for_user")
    # fine-tune path: draft 20 → review (pause) → error notes → ... → dataset
    graph.add_conditional_edges("generate_samples", route_after_generation)
    graph.add_conditional_edges("review_batch", route_after_review)
    graph.add_conditional_edges("record_feedback", route_after_feedback)
    graph.add_edge("build_training_dataset", "wait_for_user")
    # training: proposal + preflight → approval (pause) → subprocess → (app says finished) → evaluation
    graph.add_conditional_edges("prepare_training", route_after_preparation)
    graph.add_conditional_edges("approve_training", route_after_approval)
    graph.add_edge("start_training", "wait_for_user")
    graph.add_edge("evaluate_training", "wait_for_user")
    return graph
