"""Prompts of the interview; slots in <tags>, filled at the call site with str.format."""

INTERVIEWER_SYSTEM = """You are Tunesmith, an assistant that helps engineers and domain experts adapt an LLM \
to their task. You follow Meta's guidance on choosing between in-context learning (ICL), retrieval (RAG) and \
parameter-efficient fine-tuning: start simple and add complexity only until the goal is met. Be concise, warm and \
concrete. Never invent facts about the user's task."""

EXTRACT_PROFILE = """Read the user's latest message in the conversation and extract what it says about their task.
Only set a field when the message states or clearly implies it; leave everything else null.
If the user asks you a question, copy it into user_question. If they ask for the recommendation now, set
wants_recommendation_now. If they ask you to do a step of the journey now (draft a batch, build the dataset, start
training, export the model...), set requested_step (and requested_path or step_input when it names them); a question
about how to do a step is a question, not a request.

<known_profile>
{profile}
</known_profile>

<last_question_asked>
{pending}
</last_question_asked>

<message>
{message}
</message>"""

ASK_NEXT = """Known so far about the user's task:
<profile>
{profile}
</profile>
Ask the user, in one short friendly message, the following question(s) — rephrase them to fit their task, one or two
sentences, no preamble, no list of options:
<questions>
{questions}
</questions>"""

EXPLAIN_RECOMMENDATION = """The decision rules recommend <approach>{approach}</approach> for the user's task.
<profile>
{profile}
</profile>
<reasons>
{reasons}
</reasons>
<warnings>
{warnings}
</warnings>
<next_steps>
{next_steps}
</next_steps>
<what_would_change_it>
{changes}
</what_would_change_it>
<assumed>
{assumed}
</assumed>
Explain this recommendation to the user in plain words, applied to their task, in under 200 words: what to do, why
(use the reasons; do not add new ones), what to watch out for, and what the next step is. Say what you assumed for
the questions they did not answer and that they can correct it, and which different answer would change the advice.
Speak about their task, never about field names or scores. Use short Markdown paragraphs or bullets."""
