"""Wiring only: the journey, readable top to bottom. Compile at the edge with a checkpointer."""
from __future__ import annotations

from langgraph.graph import START, StateGraph

from agent.nodes import AgentDeps, InterviewNodes, route_after_plan, route_after_reply
from agent.state import AgentState


def build_graph(deps: AgentDeps) -> StateGraph:
    nodes = InterviewNodes(deps)
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

    graph.add_edge(START, "start_conversation")
    graph.add_edge("start_conversation", "plan_questions")
    graph.add_conditional_edges("plan_questions", route_after_plan)
    graph.add_edge("wait_for_user", "understand_reply")
    graph.add_conditional_edges("understand_reply", route_after_reply)
    graph.add_edge("clarify", "wait_for_user")
    graph.add_edge("answer_free_question", "wait_for_user")
    graph.add_edge("recommend_approach", "explain_recommendation")
    graph.add_edge("explain_recommendation", "wait_for_user")
    graph.add_edge("start_path", "wait_for_user")
    return graph
