"""Few-shot (ICL) prompts: a task description, worked examples, then the query; and a way to try one."""

from __future__ import annotations

from typing import Any

from tools.dataset.schema import AlpacaSample
from tools.errors import LLMUnavailable, UserError
from tools.icl.retriever import ExampleRetriever

QUERY_SLOT = "<query>"  # stands for the query in a prompt built without one; try_prompt fills it

FEW_SHOT_TEMPLATE = """\
{task}
{system}
Here are examples of the task done well. Answer the last input the same way, with the response only.

{examples}

### Your turn
Input:
{query}
Response:"""


def format_example(number: int, sample: AlpacaSample) -> str:
    """One example as a numbered block: earlier turns (if any), the input, then the response."""
    lines = [f"### Example {number}"]
    for question, answer in sample.history:
        lines += [f"Earlier input:\n{question}", f"Earlier response:\n{answer}"]
    lines += [f"Input:\n{sample.prompt_text()}", f"Response:\n{sample.output}"]
    return "\n".join(lines)


def _shared_system(examples: list[AlpacaSample]) -> str:
    """The examples' system prompt when they all share one, shown once as guidance."""
    systems = {e.system.strip() for e in examples}
    return f"\nBehaviour to keep: {systems.pop()}\n" if len(systems) == 1 and "" not in systems else ""


def build_few_shot_prompt(
    task: str,
    examples: list[AlpacaSample],
    query: str | None = None,
    max_examples: int = 8,
    retriever: ExampleRetriever | None = None,
) -> str:
    """A few-shot prompt: all examples when at most max_examples, else the ones most relevant to the query.

    Without a query and with too many examples, the first max_examples are used and the prompt ends with the
    placeholder QUERY_SLOT for try_prompt to fill. Pass a retriever to reuse one built over the same examples.
    """
    if not task.strip():
        raise UserError("the task description is empty; say in a sentence what the model must do")
    if not examples:
        raise UserError("no examples given; add a few worked examples (instruction, input, output)")
    if max_examples < 1:
        raise UserError(f"max_examples must be at least 1 (got {max_examples})")
    query = (query or "").strip() or None
    chosen = list(examples)
    if len(examples) > max_examples:
        if query:
            chosen = (retriever or ExampleRetriever(examples)).retrieve(query, max_examples)
            chosen.reverse()  # the most relevant example sits closest to the query
        else:
            chosen = chosen[:max_examples]
    blocks = "\n\n".join(format_example(n, e) for n, e in enumerate(chosen, start=1))
    return FEW_SHOT_TEMPLATE.format(
        task=task.strip(), system=_shared_system(chosen), examples=blocks, query=query or QUERY_SLOT
    )


def try_prompt(chat_model: Any, prompt: str, query: str) -> str:
    """The model's answer to the prompt with the query filled in; LLMUnavailable (plain words) on failure."""
    from langchain_core.messages import HumanMessage

    from tools.llm import describe_llm_error

    if QUERY_SLOT in prompt:
        prompt = prompt.replace(QUERY_SLOT, query)
    elif query.strip() not in prompt:
        raise UserError(
            "this prompt was built for another query; rebuild it with build_few_shot_prompt(query=...)"
        )
    try:
        reply = chat_model.invoke([HumanMessage(content=prompt)])
    except Exception as exc:
        raise LLMUnavailable(describe_llm_error(exc)) from exc
    return reply.text.strip()
