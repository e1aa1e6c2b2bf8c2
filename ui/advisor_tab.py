"""The advisor tab: chat with quick replies beside the profile, the recommendation and the decision flow."""
from __future__ import annotations

import html

import gradio as gr

from agent.session import ConversationView, Session
from tools.advisor.flow_diagram import render_flow_svg
from tools.advisor.profile import QUESTION_BY_FIELD, QUESTIONS, choice_label
from tools.advisor.recommend import APPROACH_TITLES, render_markdown_body

MAX_QUICK_REPLIES = 12  # two questions asked at once: two sets of choices, skip and "Recommend now"
# The agent's status marks as words: an emoji font is not everywhere, and without one they show as empty boxes.
MARKS_AS_WORDS = {"✅": "**OK**", "⚠️": "**Warning:**", "❌": "**Failed**"}


def marks_as_words(text: str) -> str:
    for mark, words in MARKS_AS_WORDS.items():
        text = text.replace(mark, words)
    return text


def warning_badge(text: str) -> str:
    """A notice with a CSS badge (readable without colour and without an emoji font), its text escaped."""
    return f"<span class='ts-badge ts-badge-warn'>Warning</span> {html.escape(text, quote=False)}"


def shown_messages(messages: list[dict]) -> list[dict]:
    """The transcript as the chat shows it: status marks as words (the stored transcript keeps them)."""
    return [{**m, "content": marks_as_words(m["content"])} for m in messages]


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

    def view_outputs(self, view: ConversationView) -> dict:
        """Everything this tab shows for the conversation, by component."""
        buttons = {button: gr.Button(value=view.quick_replies[i]["label"], visible=True)
                   if i < len(view.quick_replies) else gr.Button(visible=False) for i, button in enumerate(self.quick)}
        rec = view.recommendation
        notice = warning_badge(view.notice) if view.notice else ""
        return {self.thread: view.thread_id, self.chatbot: shown_messages(view.messages),
                self.profile: render_profile(view.profile), self.recommendation: render_recommendation(rec),
                self.flow: render_flow_svg(rec["approach"], rec["scores"]) if rec else render_flow_svg(),
                self.notice: gr.Markdown(notice, visible=bool(notice)),
                self.picker: gr.Dropdown(choices=self.conversation_choices(), value=view.thread_id), **buttons}

    def conversation_choices(self) -> list[tuple[str, str]]:
        return [(c["title"], c["thread_id"]) for c in self.session.list_conversations()]

    # --- handlers -------------------------------------------------------------------------------------------
    def open_conversation(self, thread_id: str | None) -> dict:
        if not thread_id:
            conversations = self.session.list_conversations()
            first = conversations[0]["thread_id"] if conversations else None
            view = self.session.reopen(first) if first else self.session.new_conversation()
        else:
            view = self.session.reopen(thread_id)
        return self.view_outputs(view)

    def new_conversation(self) -> dict:
        return self.view_outputs(self.session.new_conversation())

    def send_text(self, thread_id: str, text: str):
        text = (text or "").strip()
        if not text:
            yield {self.textbox: ""}
            return
        yield from self._stream_reply(thread_id, {"text": text})

    def send_quick_reply(self, index: int):
        def handler(thread_id: str):
            replies = self.session.view(thread_id).quick_replies
            if index >= len(replies):
                yield {self.textbox: gr.skip()}  # (Gradio reads an empty dict as one value, not as no update)
                return
            yield from self._stream_reply(thread_id, replies[index]["reply"])
        return handler

    def _stream_reply(self, thread_id: str | None, reply: dict):
        if not thread_id:  # sent before the page finished loading: open the latest conversation first
            conversations = self.session.list_conversations()
            thread_id = conversations[0]["thread_id"] if conversations else self.session.new_conversation().thread_id
        view = self.session.view(thread_id)
        messages = shown_messages(view.messages + [{"role": "user", "content": reply["text"]}])
        streamed = ""
        yield {self.thread: thread_id, self.chatbot: messages, self.textbox: ""}
        for token in self.session.stream(thread_id, reply):
            streamed += token
            yield {self.chatbot: messages + [{"role": "assistant", "content": marks_as_words(streamed)}]}
        yield {**self.view_outputs(self.session.view(thread_id)), self.textbox: ""}

    # --- layout ---------------------------------------------------------------------------------------------
    def build(self, conversation_picker: gr.Dropdown, thread: gr.State) -> None:
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
        self.thread, self.chatbot, self.profile, self.recommendation, self.flow = (thread, chatbot, profile,
                                                                                  recommendation, flow)
        self.notice, self.picker, self.quick, self.textbox = notice, conversation_picker, quick, textbox
        self.outputs = [thread, chatbot, profile, recommendation, flow, notice, conversation_picker, *quick]
        # other tabs chain their refresh onto these, since a chat turn can move the journey on
        self.events = [send.click(self.send_text, [thread, textbox], self.outputs + [textbox]),
                       textbox.submit(self.send_text, [thread, textbox], self.outputs + [textbox])]
        self.events += [button.click(self.send_quick_reply(i), [thread], self.outputs + [textbox])
                        for i, button in enumerate(quick)]
