"""`tunesmith advise` and `tunesmith ask`."""
from __future__ import annotations

import argparse
import json
import sys

from tools.advisor.profile import QUESTIONS, TaskProfile, apply_answer, load_profile


def register(sub: argparse._SubParsersAction) -> None:
    advise = sub.add_parser("advise", help="recommend ICL, RAG or fine-tuning for a task profile")
    advise.add_argument("--profile", help="JSON file of profile fields (all optional); without it, asks you")
    advise.add_argument("--json", action="store_true", help="print the recommendation as JSON")
    advise.set_defaults(func=run_advise)

    ask = sub.add_parser("ask", help="ask a question; the answer cites the guidance knowledge base")
    ask.add_argument("question")
    ask.add_argument("--profile", help="JSON profile file, so the answer applies to your task")
    ask.add_argument("--json", action="store_true")
    ask.set_defaults(func=run_ask)


def interview_in_terminal(read=input, write=print) -> TaskProfile:
    """Asks each question with numbered choices; Enter (or end of input) leaves it unknown."""
    profile = TaskProfile()
    write("Answer with a number, or press Enter if you don't know.\n")
    for question in QUESTIONS:
        if question.field == "data_dynamics" and profile.requires_external_knowledge is False:
            continue  # no knowledge of their own, so nothing to change
        write(question.text)
        for i, (label, _) in enumerate(question.choices, 1):
            write(f"  {i}) {label}")
        while True:
            try:
                reply = read("> ").strip()
            except EOFError:
                return profile
            if not reply:
                break
            if reply.isdigit() and 1 <= int(reply) <= len(question.choices):
                profile = apply_answer(profile, question.field, question.choices[int(reply) - 1][1])
                break
            write(f"Please type a number from 1 to {len(question.choices)}, or press Enter to skip.")
    return profile


def _read_prompt_on_stderr(prompt: str) -> str:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line


def run_advise(args: argparse.Namespace) -> int:
    from tools.advisor.recommend import recommend, render_report

    if args.profile:
        profile = load_profile(args.profile)
    elif args.json:  # keep stdout pure JSON: questions and prompts go to stderr
        profile = interview_in_terminal(read=_read_prompt_on_stderr, write=lambda *a: print(*a, file=sys.stderr))
    else:
        profile = interview_in_terminal()
    rec = recommend(profile)
    print(json.dumps(rec.to_dict(), indent=2) if args.json else
          render_report(rec, changing="profile" if args.profile else "interview"))
    return 0


def run_ask(args: argparse.Namespace) -> int:
    from tools.advisor.kb import answer_question, format_answer_text
    from tools.errors import LLMUnavailable
    from tools.llm import build_chat_model
    from tools.settings import load_settings
    from tools.workspace import Workspace

    profile = load_profile(args.profile).known() if args.profile else None
    settings = load_settings()
    try:
        model = build_chat_model(settings)
    except LLMUnavailable:
        model = None  # extractive answer from the knowledge base
    answer = answer_question(args.question, profile=profile, chat_model=model,
                             persist_dir=Workspace.from_settings(settings).guidance_index)
    if args.json:
        citations = [vars(c) if hasattr(c, "__dict__") else c for c in answer.citations]
        print(json.dumps({"answer": answer.text, "citations": citations, "note": answer.note}, indent=2, default=str))
    else:
        print(format_answer_text(answer))
    return 0
