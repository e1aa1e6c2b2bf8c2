"""The Gradio app: layout in one place; each tab's handlers are plain methods that call the session, and return
their outputs by component ({component: value})."""
from __future__ import annotations

import gradio as gr

from agent.session import Session
from tools.settings import Settings
from ui.advisor_tab import AdvisorTab
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
.ts-badge {border-radius:4px; padding:0 6px; font-weight:600; border:1px solid currentColor}
.ts-badge-warn {background:#fef3c7; color:#92400e}
"""
STEPS = ["1 · Your task", "2 · Recommendation", "3 · Build it", "4 · Train", "5 · Use it"]
STEP_OF_STAGE = {"interview": 0, "recommended": 1, "seeds": 2, "review": 2, "dataset": 2, "rag": 2, "icl": 2,
                 "training": 3, "done": 4}
STEP_OF_TAB = {"data": 2, "rag": 2, "icl": 2, "training": 3}  # the Advisor tab shows where the journey is
TABS = {"advisor": "Advisor", "data": "Data studio", "training": "Training", "rag": "Retrieval", "icl": "Prompt"}


def render_stepper(stage: str, tab: str = "advisor") -> str:
    """The journey's steps: the one the open tab works on highlighted (on the Advisor tab, where the journey is;
    on the Training tab, Use it once a model is trained), the steps the journey has passed marked done."""
    journey = STEP_OF_STAGE.get(stage, 0)
    current = STEP_OF_TAB.get(tab, journey)
    if tab == "training":
        current = max(current, journey)  # a trained model is tried and exported on this tab: Use it
    items = "".join(
        f'<span class="ts-step{" ts-step-on" if i == current else ""}'
        f'{" ts-step-done" if i < journey and i != current else ""}" data-step="{i}">{label}</span>'
        for i, label in enumerate(STEPS))
    return f'<div class="ts-stepper" data-stage="{stage}" data-tab="{tab}">{items}</div>'


def build_app(settings: Settings, session: Session | None = None) -> gr.Blocks:
    session = session or Session(settings)
    session.start_watching()  # the server, not a browser tab, notices runs ending and evaluates them
    advisor = AdvisorTab(session)

    def chat_by_component(thread_id: str) -> dict:
        """The advisor tab's outputs, for other tabs whose actions move the conversation on."""
        return advisor.view_outputs(session.view(thread_id))

    def show_step(thread_id: str | None, tab: str) -> str:
        return render_stepper(session.view(thread_id).stage if thread_id else "interview", tab)

    with gr.Blocks(title="Tunesmith") as app:
        thread, tab = gr.State(None), gr.State("advisor")
        with gr.Row():
            gr.Markdown("## Tunesmith — from a task to a working model")
        stepper = gr.HTML(render_stepper("interview"), elem_id="ts-stepper")
        with gr.Row():
            picker = gr.Dropdown(label="Conversation", choices=advisor.conversation_choices(), scale=4,
                                 elem_id="ts-conversations", allow_custom_value=False)
            new = gr.Button("New conversation", scale=1, elem_id="ts-new")
        with gr.Tabs():
            tab_panels = {}
            with gr.Tab(TABS["advisor"], id="advisor") as tab_panels["advisor"]:
                advisor.build(picker, thread)
            with gr.Tab(TABS["data"], id="data") as tab_panels["data"]:
                data = DataTab(session, chat_by_component)
                data.build(thread, advisor.outputs)
            with gr.Tab(TABS["training"], id="training") as tab_panels["training"]:
                training = TrainingTab(session, chat_by_component)
                training.build(thread, advisor.outputs)
            with gr.Tab(TABS["rag"], id="rag") as tab_panels["rag"]:
                RetrievalTab(session).build(thread)
            with gr.Tab(TABS["icl"], id="icl") as tab_panels["icl"]:
                PromptTab(session, chat_by_component).build(thread, advisor.outputs)
        for name, panel in tab_panels.items():
            panel.select(lambda t, name=name: {tab: name, stepper: show_step(t, name)}, thread, [tab, stepper],
                         show_progress="hidden")
        # every step of the journey writes to the chat: the stepper follows it, on whichever tab is open
        advisor.chatbot.change(show_step, [thread, tab], stepper, show_progress="hidden", trigger_mode="always_last")
        opened = [app.load(advisor.open_conversation, [thread], advisor.outputs),
                  new.click(advisor.new_conversation, None, advisor.outputs),
                  picker.input(advisor.open_conversation, [picker], advisor.outputs)]
        for event in opened + advisor.events + training.events:
            event.then(data.refresh_all, [thread, *data.refresh_inputs], data.refresh_outputs)
    return app


def launch(settings: Settings, **kwargs) -> None:
    app = build_app(settings)
    app.queue().launch(server_name=settings.tunesmith_host, server_port=settings.tunesmith_port, css=CSS,
                       theme=gr.themes.Soft(), **kwargs)
