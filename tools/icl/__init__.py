"""In-context learning: few-shot prompts built from Alpaca examples, with retrieval when there are many."""

from tools.icl.prompt import build_few_shot_prompt, format_example, try_prompt
from tools.icl.retriever import ExampleRetriever

__all__ = ["ExampleRetriever", "build_few_shot_prompt", "format_example", "try_prompt"]
