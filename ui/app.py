"""The Gradio app: layout in one place; each tab's handlers are plain methods that call the session/tools."""
from __future__ import annotations

import gradio as gr

from agent.session import Session
from tools.settings import Settings
from ui.advisor_tab import AdvisorTab, render_stepper
from ui.data_tab import DataTab
from ui.paths_tab import PromptTab, RetrievalTab
from ui.training_tab import TrainingTab

CSS = """
.ts-stepper {display:flex; gap:6px; flex-wrap:wrap; margin:4px 0 8px}
.ts-step {padding:4px 10px; border-radius:999px; background:#f1f5f9; color:#475569; font-size:13px}
.ts-step-on {background:#2563eb; color:white; font-weight:600}
.ts-step-done {background:#dbeafe; color:#1e3a8a}
.ts-sample {border-left:3px solid #cbd5e1; margin-bottom:8px}
.ts-sample .ts-sample {border-left:none; margin-bottom:0}  /* Gradio puts a Group's class on two nested divs */
"""


def build_app(settings: Settings, session: Session | None = None) -> gr.Blocks:
    session = session or Session(settings)
    session.start_watching()  # the server, not a browser tab, notices runs ending and evaluates them
    advisor = AdvisorTab(session)

    def refresh_chat(thread_id: str) -> list:
        """The advisor tab's outputs, for other tabs whose actions move the conversation on."""
        return advisor.view_outputs(session.view(thread_id))

    with gr.Blocks(title="Tunesmith") as app:
        thread = gr.State(None)
        with gr.Row():
            gr.Markdown("## Tunesmith — from a task to a working model")
        stepper = gr.HTML(render_stepper("interview"), elem_id="ts-stepper")
        with gr.Row():
            picker = gr.Dropdown(label="Conversation", choices=advisor.conversation_choices(), scale=4,
                                 elem_id="ts-conversations", allow_custom_value=False)
            new = gr.Button("New conversation", scale=1, elem_id="ts-new")
        with gr.Tabs():
            with gr.Tab("Advisor", id="advisor"):
                advisor.build(stepper, picker, thread)
            with gr.Tab("Data studio", id="data"):
                data = DataTab(session, refresh_chat)
                data.build(thread, advisor.outputs)
            with gr.Tab("Training", id="training"):
                training = TrainingTab(session, refresh_chat)
                training.build(thread, advisor.outputs)
            with gr.Tab("Retrieval", id="rag"):
                RetrievalTab(session).build(thread)
            with gr.Tab("Prompt", id="icl"):
                PromptTab(session, refresh_chat).build(thread, advisor.outputs)
        fields, header, chart, _, dataset = data.refresh_targets
        data_targets = [*fields, header, chart, *dataset]
        opened = [app.load(advisor.open_conversation, [thread], advisor.outputs),
                  new.click(advisor.new_conversation, None, advisor.outputs),
                  picker.input(advisor.open_conversation, [picker], advisor.outputs)]
        for event in opened + advisor.events + training.events:
            event.then(data.refresh_all, thread, data_targets)
    return app


def launch(settings: Settings, **kwargs) -> None:
    app = build_app(settings)
    app.queue().launch(server_name=settings.tunesmith_host, server_port=settings.tunesmith_port, css=CSS,
                       theme=gr.themes.Soft(), **kwargs)
