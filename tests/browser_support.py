"""Launches the app on a free local port and drives it with Debian's Chromium through Playwright."""
from __future__ import annotations

import shutil
import socket
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                    reason="Debian's chromium is not installed (apt-get install chromium)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def workspace_session(tmp_path: Path, chat_model=None):
    """A Session on a fresh workspace under tmp_path (free questions echo back); returns (settings, store, session)."""
    from agent.nodes import AgentDeps
    from agent.session import Session, open_checkpointer
    from tools.generation.store import ReviewStore
    from tools.settings import Settings

    settings = Settings(tunesmith_workspace=tmp_path / "ws", _env_file=None)
    store = ReviewStore(settings.workspace_file("tunesmith.db"))
    deps = AgentDeps(chat_model=chat_model, store=store, workspace=settings.workspace,
                     answer_question=lambda q, p, m: q)
    return settings, store, Session(settings, deps=deps, checkpointer=open_checkpointer(settings))


@contextmanager
def running_app(settings, session):
    """The real app (ui.app.build_app) served on 127.0.0.1 in this process."""
    from ui.app import CSS, build_app

    app = build_app(settings, session=session)
    port = free_port()
    app.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, css=CSS,
                       quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


@contextmanager
def browser_page(width: int = 1400, height: int = 1000):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            browser.close()


def screenshot(page, name: str) -> Path:
    """Keeps a full-page screenshot as a test artefact (test-artifacts/NAME.png)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def fill_number(page, elem_id: str, value: str) -> None:
    """Types a training setting into the Training tab (planned settings are text boxes) and commits it."""
    field = page.locator(f"#{elem_id} input, #{elem_id} textarea").first
    field.fill(value)
    field.press("Tab")  # commits the number to Gradio's state


def settle(page) -> None:
    """Waits until no Gradio event runs (all status trackers hidden again); timer polls show none."""
    page.wait_for_function("() => !document.querySelector('[data-testid=status-tracker]:not(.hide)')")
