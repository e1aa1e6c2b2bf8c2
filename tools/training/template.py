"""How a sample becomes tokens and where the loss goes: the one chat format that training, preflight, evaluation,
try-it, export and the serving files share.

A model whose tokenizer carries a chat template keeps it. A base model without one gets a template chosen here
(LLaMA-Factory's `template` idea): its family's own turn format where we know it (Gemma's <start_of_turn>), else
a plain "### Instruction / ### Response" format ended by the EOS token. The template is set on the tokenizer, so
it is saved with the adapter and the merged export, and plain transformers' `apply_chat_template` reproduces the
training format. Answers are wrapped in {% generation %} tags, which is where the loss goes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tools.dataset.schema import AlpacaSample
from tools.errors import UserError

IGNORE_INDEX = -100  # label of a token the loss skips (the prompt, padding)

# Gemma's own turns; system text goes first in the first user turn (Gemma has no system role).
GEMMA_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages and messages[0]['role'] == 'system' -%}"
    "{%- set system_prefix = messages[0]['content'] + '\n\n' -%}{%- set turns = messages[1:] -%}"
    "{%- else -%}{%- set system_prefix = '' -%}{%- set turns = messages -%}{%- endif -%}"
    "{%- for message in turns -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{ '<start_of_turn>model\n' }}{% generation %}{{ message['content'] + '<end_of_turn>' }}{% endgeneration %}"
    "{{ '\n' }}"
    "{%- else -%}"
    "{{ '<start_of_turn>user\n' + (system_prefix if loop.first else '') + message['content'] + '<end_of_turn>\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
)
# Any other base model: Alpaca's instruction/response layout, each answer closed by the EOS token.
INSTRUCTION_TEMPLATE = (
    "{%- if bos_token -%}{{ bos_token }}{%- endif -%}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' -%}{{ message['content'] + '\n\n' }}"
    "{%- elif message['role'] == 'user' -%}{{ '### Instruction:\n' + message['content'] + '\n\n' }}"
    "{%- else -%}{{ '### Response:\n' }}{% generation %}{{ message['content'] + eos_token }}{% endgeneration %}"
    "{{ '\n\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '### Response:\n' }}{%- endif -%}"
)
GEMMA_TURN_TOKENS = ("<start_of_turn>", "<end_of_turn>")
_GENERATION_TAG = re.compile(r"{%-?\s*generation\s*-?%}")


@dataclass(frozen=True)
class EncodedSample:
    """Token ids of one conversation and its labels (IGNORE_INDEX outside the trained answers)."""

    input_ids: list[int]
    labels: list[int]

    @property
    def trained_tokens(self) -> int:
        return sum(label != IGNORE_INDEX for label in self.labels)


def ensure_chat_template(tokenizer: Any) -> str:
    """Gives a base model's tokenizer the project's template (in place); returns which template it uses.

    For the Gemma turns the end-of-turn token becomes the EOS token, so "the answer ends with EOS" means the same
    for every template, and generation stops there.
    """
    if tokenizer.chat_template:
        return template_name(tokenizer)
    vocab = tokenizer.get_vocab()
    if all(token in vocab for token in GEMMA_TURN_TOKENS):
        tokenizer.chat_template = GEMMA_TEMPLATE
        tokenizer.eos_token = "<end_of_turn>"
    else:
        if not tokenizer.eos_token:
            raise UserError("the base model's tokenizer has neither a chat template nor an EOS token, so "
                            "answers could not be ended; choose another model")
        tokenizer.chat_template = INSTRUCTION_TEMPLATE
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return template_name(tokenizer)


def template_name(tokenizer: Any) -> str:
    """Which chat format a tokenizer uses, in words (shown by preflight and the trainer's start message)."""
    if tokenizer.chat_template == GEMMA_TEMPLATE:
        return "Gemma turns (<start_of_turn>user / model ... <end_of_turn>), added by Tunesmith for this base model"
    if tokenizer.chat_template == INSTRUCTION_TEMPLATE:
        return (f"### Instruction / ### Response ended by {tokenizer.eos_token!r}, added by Tunesmith for this "
                "base model")
    return "the model's own chat template" if tokenizer.chat_template else "none"


def has_generation_tags(tokenizer: Any) -> bool:
    """The template marks the answers with {% generation %} (any whitespace control), so every answer is trained."""
    return bool(_GENERATION_TAG.search(tokenizer.chat_template or ""))


def loss_mode(tokenizer: Any) -> str:
    """assistant_only: every answer (generation tags mark them); completion_only: the final answer only."""
    return "assistant_only" if has_generation_tags(tokenizer) else "completion_only"


def sample_messages(sample: AlpacaSample, with_answer: bool = True) -> list[dict[str, str]]:
    """The chat messages an Alpaca sample stands for: system, history turns, the question (and answer)."""
    messages = [{"role": "system", "content": sample.system}] if sample.system else []
    for question, answer in sample.history:
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    messages.append({"role": "user", "content": sample.prompt_text()})
    if with_answer:
        messages.append({"role": "assistant", "content": sample.output})
    return messages


def prompt_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """Token ids of a conversation up to where the model's answer starts (what inference feeds the model)."""
    return list(tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"])


def encode_sample(tokenizer: Any, sample: AlpacaSample, max_len: int | None = None) -> EncodedSample:
    """Token ids and labels: with generation tags every answer is trained, else the final answer only.

    The answer's end-of-turn token is trained too (learning to stop matters); template text after it is not.
    """
    messages = sample_messages(sample)
    if has_generation_tags(tokenizer):
        encoded = tokenizer.apply_chat_template(messages, return_dict=True, return_assistant_tokens_mask=True)
        ids, mask = list(encoded["input_ids"]), list(encoded["assistant_masks"])
    else:
        ids = list(tokenizer.apply_chat_template(messages, return_dict=True)["input_ids"])
        start = _answer_start(tokenizer, messages, ids)
        mask = [0] * start + [1] * (len(ids) - start)
        eos = tokenizer.eos_token_id
        if eos is not None and eos in ids[start:]:
            end = ids.index(eos, start) + 1
            mask[end:] = [0] * (len(ids) - end)
    labels = [token if keep else IGNORE_INDEX for token, keep in zip(ids, mask)]
    if max_len is not None:
        ids, labels = ids[:max_len], labels[:max_len]
    return EncodedSample(ids, labels)


def _answer_start(tokenizer: Any, messages: list[dict[str, str]], full: list[int]) -> int:
    prompt = prompt_ids(tokenizer, messages[:-1])
    if full[: len(prompt)] != prompt:
        raise UserError("the chat template renders the prompt differently with and without the answer, so the "
                        "answer tokens cannot be found; use a template whose generation prompt is a prefix")
    return len(prompt)


ANSWER_PROBE = "\x00ANSWER\x00"  # an answer no real text contains, to find what the template writes after it


def text_after_answer(tokenizer: Any) -> str:
    """What the chat template writes right after an assistant answer (the end-of-turn probe of preflight and
    inference); a broken template raises what Jinja raised."""
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": ANSWER_PROBE}], tokenize=False)
    return rendered.split(ANSWER_PROBE, 1)[1] if ANSWER_PROBE in rendered else ""


def end_of_turn_token(tokenizer: Any) -> str:
    """The token the chat template writes right after an answer (what the model learned to emit and stop on)."""
    if tokenizer.chat_template:
        after = text_after_answer(tokenizer)
        for token in tokenizer.all_special_tokens:
            if token and after.startswith(token):
                return token
    if not tokenizer.eos_token:
        raise UserError("the tokenizer has neither a chat template nor an eos_token; run `tunesmith preflight`")
    return tokenizer.eos_token


def eos_ends_assistant_turn(tokenizer: Any) -> bool:
    """Whether answers end with the EOS token; otherwise the tuned model may never stop."""
    return bool(tokenizer.eos_token) and end_of_turn_token(tokenizer) == tokenizer.eos_token
