"""The advisor tab: chat with quick replies beside the profile, the recommendation and the decision flow."""
from __future__ import annotations

import gradio as gr

from agent.session import ConversationView, Session
from tools.advisor.flow_diagram import render_flow_svg
from tools.advisor.profile import QUESTION_BY_FIELD, QUESTIONS, choice_label
from tools.advisor.recommend import APPROACH_TITLES, render_markdown_body

MAX_QUICK_REPLIES = 12  # two questions asked at once: two sets of choices, skip and "Recommend now"
STEPS = ["1 · Your task", "2 · Recommendation", "3 · Build it", "4 · Train", "5 · Use it"]
STEP_OF_STAGE = {"interview": 0, "recommended": 1, "seeds": 2, "review": 2, "dataset": 2, "rag": 2, "icl": 2,
                 "training": 3, "done": 4}


def render_stepper(stage: str) -> str:
    """A row of journey steps with the current one highlighted."""
    current = STEP_OF_STAGE.get(stage, 0)
    items = "".join(
        f'<span class="ts-step{" ts-step-on" if i == current else ""}{" ts-step-done" if i < current else ""}" '
        f'data-stage="{stage if i == current else ""}">{label}</span>' for i, label in enumerate(STEPS))
    return f'<div class="ts-stepper">{items}</div>'


def render_profile(profile: dict) -> str:
    """Each known answer under its question's short label, worded as the quick replies word it."""
    if not profile:
        return "_Nothing known yet. Answer a question or describe your task._"
    lines = []
    for field, value in profile.items():
        question = QUESTION_BY_FIELD.get(field)
        topic = question.topic if question else "Approach you have in mind"
        answer = APPROACH_TITLES.get(value, value) if field == "preferred_approach" else choice_label(field, value)
        lines.append((QUESTIONS.index(question) if question else len(QUESTIONS), f"- **{topic}:** {answer}"))
    return "\n".join(line for _, line in sorted(lines))


def render_recommendation(rec: dict | None) -> str:
    if not rec:
        return "_No recommendation yet._"
    return f"### {APPROACH_TITLES[rec['approach']]}\n\n" + render_markdown_body(rec, brief=True)


class AdvisorTab:
    """Builds the components and wires plain handlers that call the session."""

    def __init__(self, session: Session):
        self.session = session

    def view_outputs(self, view: ConversationView) -> list:
        buttons = []
        for i in range(MAX_QUICK_REPLIES):
            if i < len(view.quick_replies):
                buttons.append(gr.Button(value=view.quick_replies[i]["label"], visible=True))
            else:
                buttons.append(gr.Button(visible=False))
        rec = view.recommendation
        notice = f"⚠️ {view.notice}" if view.notice else ""
        return [
            view.thread_id, view.messages, render_profile(view.profile), render_recommendation(rec),
            render_flow_svg(rec["approach"], rec["scores"]) if rec else render_flow_svg(),
            render_stepper(view.stage), gr.Markdown(notice, visible=bool(notice)),
            gr.Dropdown(choices=self.conversation_choices(), value=view.thread_id), *buttons,
        ]

    def conversation_choices(self) -> list[tuple[str, str]]:
        return [(c["title"], c["thread_id"]) for c in self.session.list_conversations()]

    # --- handlers -------------------------------------------------------------------------------------------
    def open_conversation(self, thread_id: str | None) -> list:
        if not thread_id:
            conversations = self.session.list_conversations()
            first = conversations[0]["thread_id"] if conversations else None
            view = self.session.reopen(first) if first else self.session.new_conversation()
        else:
            view = self.session.reopen(thread_id)
        return self.view_outputs(view)

    def new_conversation(self) -> list:
        return self.view_outputs(self.session.new_conversation())

    def send_text(self, thread_id: str, text: str):
        text = (text or "").strip()
        if not text:
            yield [gr.skip()] * len(self.outputs) + [""]
            return
        yield from self._stream_reply(thread_id, {"text": text})

    def send_quick_reply(self, index: int):
        def handler(thread_id: str):
            replies = self.session.view(thread_id).quick_replies
            if index >= len(replies):
                yield [gr.skip()] * len(self.outputs) + [gr.skip()]
                return
            yield from self._stream_reply(thread_id, replies[index]["reply"])
        return handler

    def _stream_reply(self, thread_id: str | None, reply: dict):
        if not thread_id:  # sent before the page finished loading: open the latest conversation first
            conversations = self.session.list_conversations()
            thread_id = conversations[0]["thread_id"] if conversations else self.session.new_conversation().thread_id
        view = self.session.view(thread_id)
        messages = view.messages + [{"role": "user", "content": reply["text"]}]
        streamed = ""
        yield [thread_id, messages] + [gr.skip()] * (len(self.outputs) - 2) + [""]
        for token in self.session.stream(thread_id, reply):
            streamed += token
            yield [gr.skip(), messages + [{"role": "assistant", "content": streamed}]] + \
                [gr.skip()] * (len(self.outputs) - 2) + [""]
        yield self.view_outputs(self.session.view(thread_id)) + [""]

    # --- layout ---------------------------------------------------------------------------------------------
    def build(self, stepper: gr.HTML, conversation_picker: gr.Dropdown, thread: gr.State) -> None:
        llm_note = ("LLM endpoint configured: I understand free text." if self.session.llm_configured else
                    "No LLM endpoint configured: guided interview with quick choices. Set OPENAI_BASE_URL and "
                    "OPENAI_API_KEY (in .env) for free-text understanding and sample generation.")
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Tunesmith", height=520, elem_id="ts-chat")
                notice = gr.Markdown(visible=False, elem_id="ts-notice")
                with gr.Row(elem_id="ts-quick-replies"):
                    quick = [gr.Button(visible=False, size="sm", elem_id=f"ts-quick-{i}")
                             for i in range(MAX_QUICK_REPLIES)]
                with gr.Row():
                    textbox = gr.Textbox(placeholder="Describe your task, answer, or ask a question…",
                                         show_label=False, scale=5, elem_id="ts-input")
                    send = gr.Button("Send", variant="primary", scale=1, elem_id="ts-send")
                gr.Markdown(f"<small>{llm_note}</small>")
            with gr.Column(scale=2):
                gr.Markdown("#### What I know about your task")
                profile = gr.Markdown(elem_id="ts-profile")
                gr.Markdown("#### Recommendation")
                recommendation = gr.Markdown(elem_id="ts-recommendation")
                flow = gr.HTML(elem_id="ts-flow")
        self.outputs = [thread, chatbot, profile, recommendation, flow, stepper, notice, conversation_picker, *quick]
        # other tabs chain their refresh onto these, since a chat turn can move the journey on
        self.events = [send.click(self.send_text, [thread, textbox], self.outputs + [textbox]),
                       textbox.submit(self.send_text, [thread, textbox], self.outputs + [textbox])]
        self.events += [button.click(self.send_quick_reply(i), [thread], self.outputs + [textbox])
                        for i, button in enumerate(quick)]
