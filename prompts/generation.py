"""Prompts that ask an LLM to draft one batch of Alpaca training samples.

Slots in {braces} are filled at the call site (tools.generation.prompt); literal braces are doubled.
"""

GENERATION_SYSTEM_PROMPT = """\
You write training data for fine-tuning a language model. You draft realistic, varied, correct samples in \
the Alpaca format and answer with JSON only: no commentary before or after it."""

# Blocks every drafting request carries (the ordinary batch here, the retrieval batch in prompts/raft.py).
FEEDBACK_BLOCK = """\
<feedback>
Reviewers found these mistakes in earlier batches. Avoid every one of them:
{notes}
</feedback>
"""

CORRECTIONS_BLOCK = """\
<corrections>
Samples reviewers corrected: what was wrong, then the draft (before) and the reviewer's version (after). Write new \
samples the way the "after" versions are written:
{corrections}
</corrections>
"""

REJECTED_BLOCK = """\
<rejected>
Samples reviewers rejected, with the reason. Do not write anything like them:
{rejected}
</rejected>
"""

GENERATION_REQUEST = """\
<task>
{task}
</task>

<system_prompt>
The fine-tuned model will run with this system prompt (do not repeat it inside samples):
{system}
</system_prompt>

<examples>
Seed examples written by the person. Match their format, tone and length, but do not copy them:
{examples}
</examples>

""" + FEEDBACK_BLOCK + """
""" + CORRECTIONS_BLOCK + """
""" + REJECTED_BLOCK + """
<already_written>
Questions already in the dataset or in this batch. Write different ones:
{avoid}
</already_written>

<instructions>
Write exactly {count} new samples. Each sample is an object with:
- "instruction" (required): what the model is asked to do;
- "input" (may be ""): the material the instruction applies to;
- "output" (required): the correct, complete answer, supported by the instruction and input alone;
- "history" (may be []): earlier turns of a multi-turn conversation as [instruction, answer] pairs, \
oldest first; use it only for multi-turn samples.
Vary topics, phrasing, difficulty and length across samples. Answer with one JSON object:
{{"samples": [{{"instruction": "...", "input": "", "output": "...", "history": []}}]}}
</instructions>"""

# Used in a slot that has nothing to show, so the model sees the section is deliberately empty.
EMPTY_SLOT = "(none)"

# One reviewer's correction in <corrections>; fields are JSON strings (quotes and newlines escaped).
CORRECTION = """\
- What was wrong: {wrong}
  Case: {case}"""
CORRECTION_FIELD = """\
  {name} before: {before}
  {name} after: {after}"""
# After the newest corrections, when there are more than the request carries.
MORE_CORRECTIONS = "({count} earlier correction(s) not shown; the newest {shown} are above.)"
