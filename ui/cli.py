"""`tunesmith ui`: start the app (127.0.0.1 unless told otherwise)."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    ui = sub.add_parser("ui", help="start the Tunesmith app in the browser")
    ui.add_argument("--host", help="address to bind (default 127.0.0.1; 0.0.0.0 exposes it to your network)")
    ui.add_argument("--port", type=int, help="port (default 7860)")
    ui.add_argument("--workspace", help="folder where conversations, datasets and runs are kept")
    ui.set_defaults(func=run_ui)


def run_ui(args: argparse.Namespace) -> int:
    from tools.settings import load_settings
    from ui.app import launch

    settings = load_settings(tunesmith_host=args.host, tunesmith_port=args.port, tunesmith_workspace=args.workspace)
    print(f"Tunesmith on http://{settings.tunesmith_host}:{settings.tunesmith_port}  (workspace: {settings.workspace})")
    launch(settings)
    return 0
