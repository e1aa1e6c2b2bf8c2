"""Error notes drawn deterministically from reject reasons and edits."""

from __future__ import annotations

from dataclasses import dataclass

from tools.dataset.schema import AlpacaSample
from tools.generation.notes import clean_notes, merge_notes, note_from_reason, notes_from_reviews


@dataclass
class Review:
    original: AlpacaSample
    current: AlpacaSample
    status: str
    reason: str = ""


def sample(output: str, instruction: str = "Describe the weather") -> AlpacaSample:
    return AlpacaSample(instruction=instruction, output=output)


def edited(before: str, after: str, **kwargs: str) -> Review:
    return Review(sample(before, **kwargs), sample(after, **kwargs), "edited")


def test_reject_reasons_become_deduplicated_notes_most_frequent_first():
    reviews = [
        Review(sample("a"), sample("a"), "rejected", "answer is made up"),
        Review(sample("b"), sample("b"), "rejected", "Too vague."),
        Review(sample("c"), sample("c"), "rejected", "too  vague"),
        Review(sample("d"), sample("d"), "approved"),
    ]
    case = '(for cases like "Describe the weather")'
    assert notes_from_reviews(reviews) == [f"Avoid: Too vague {case}", f"Avoid: answer is made up {case}"]


def test_imperative_reasons_are_kept_as_written():
    assert note_from_reason("don't use emojis.") == "Don't use emojis"
    assert note_from_reason("wrong unit") == "Avoid: wrong unit"


def test_shortened_outputs_and_replaced_words():
    long = "It is sunny today and the temperature is about twenty degrees with a light breeze from the west"
    notes = notes_from_reviews(
        [
            edited(long, "Sunny, about twenty degrees."),
            edited("The colour is grey outside", "The color is grey outside"),
            edited("Wear a coat", "Wear a warm coat"),
            edited("Rain", "Rain likely"),
        ]
    )
    general = [note.split(" (for cases like")[0] for note in notes]
    assert "Reviewers shortened outputs: keep them shorter and to the point." in general
    assert "In the output, write 'color' instead of 'colour'." in general
    assert "In the output, write 'warm coat' instead of 'coat'." in general
    assert "In the output, write 'Rain likely' instead of 'Rain'." in general


def test_removed_phrases_whitespace_and_rewrites():
    notes = notes_from_reviews(
        [
            edited("Sure! The sky is clear.", "The sky is clear."),
            edited("Rain  later.\n\n", "Rain later."),
            edited("A", "B", instruction="Describe the weather in Paris"),
            Review(
                sample("x", "Tell me about the climate of a desert region"),
                sample("x", "Which desert gets the least rain in a typical year"),
                "edited",
            ),
        ]
    )
    general = [note.split(" (for cases like")[0] for note in notes]
    assert "Do not write 'Sure!' in the output." in general
    assert "Trim stray spaces and blank lines in the output." in general
    assert "In the output, write 'B' instead of 'A'." in general
    assert "Reviewers rewrote instructions: follow the seed examples more closely." in general


def test_merge_keeps_the_persons_list_and_adds_only_new_notes():
    existing = ["Avoid: Too vague", "Use metric units"]
    assert merge_notes(existing, ["avoid too vague", "Keep answers short"]) == existing + [
        "Keep answers short"
    ]
    assert clean_notes(["  a  note ", "", "A note."]) == ["a note"]


def test_notes_are_scoped_to_their_case_unless_marked_general():
    ticket = AlpacaSample(instruction="Rate the urgency of the ticket", input="printer jam", output="medium")
    fixed = ticket.model_copy(update={"output": "low"})
    other = AlpacaSample(instruction="Rate the urgency of the ticket", input="server down", output="low")
    notes = notes_from_reviews([
        Review(ticket, fixed, "edited"),
        Review(other, other, "rejected", "general: answers must be one word"),
        Review(other, other, "rejected", "invents a ticket number"),
        Review(other, other, "rejected", "conflict: sample 3 kept instead"),  # a resolution, not a lesson
    ])
    assert notes == [
        "Avoid: answers must be one word",
        'Avoid: invents a ticket number (for cases like "Rate the urgency of the ticket server down")',
        "In the output, write 'low' instead of 'medium'. (for cases like \"Rate the urgency of the ticket printer "
        'jam")',
    ]


def failing_case(index: int, kind: str, question: str = "Convert 1 1/2 cups of rice to metric") -> dict:
    return {"index": index, "instruction": "Convert to metric", "input": f"{question} #{index}",
            "prompt": f"Convert to metric\n\n{question} #{index}", "reference": f"{355 + index} ml",
            "answer": "20 ml", "correct": False, "kinds": [kind]}


def test_failing_evaluation_rows_are_those_wrong_and_not_near_twins():
    from tools.generation.notes import failing_cases

    right = {**failing_case(0, "wrong_content"), "correct": True, "kinds": []}
    twin = failing_case(1, "near_twin")
    wrong = failing_case(2, "collapse")
    assert failing_cases({"cases": [right, twin, wrong]}) == [wrong]
    assert failing_cases({}) == []  # an evaluation made before cases existed


def test_failing_rows_become_scoped_notes_naming_the_failure_and_the_correct_answer():
    from tools.generation.notes import EVALUATION_NOTE, MAX_EVALUATION_NOTES, notes_from_evaluation

    cases = [failing_case(i, "wrong_content") for i in range(10)] + [failing_case(10, "collapse")]
    notes = notes_from_evaluation(cases, {"wrong_content": "right format, wrong content"})
    assert len(notes) == MAX_EVALUATION_NOTES and all(n.startswith(EVALUATION_NOTE) for n in notes)
    assert notes[0] == ('Held-out mistake (right format, wrong content): the correct answer is "355 ml", the tuned '
                        'model answered "20 ml". Write new samples with inputs of this kind and their correct '
                        'answers, never this held-out input or a reworded copy of it (for cases like "Convert to '
                        'metric Convert 1 1/2 cups of rice to metric #0")')
    assert notes[1].startswith("Held-out mistake (collapse): ")  # every kind gets a turn before the cap


def test_a_new_evaluation_replaces_the_old_ones_notes_and_keeps_the_persons():
    from tools.generation.notes import notes_from_evaluation, replace_evaluation_notes

    old = notes_from_evaluation([failing_case(0, "wrong_content")])
    mine = ["Avoid: vague answers", "Use metric units only."]
    new = notes_from_evaluation([failing_case(5, "no_stop")])
    assert replace_evaluation_notes([mine[0], *old, mine[1]], new) == [*mine, *new]


def test_what_the_misses_share_comes_first_and_asks_for_inputs_with_it():
    from tools.generation.notes import notes_from_evaluation

    shared = [{"words": ["onboarding"], "questions": 6, "misses": 6, "in_training": 0}]
    notes = notes_from_evaluation([failing_case(0, "wrong_content")], {}, shared)
    assert notes[0] == ("Held-out mistakes share “onboarding”: 6 of the 6 questions with it were answered wrong; no "
                        "training question has it. Write new samples whose inputs contain it, and others like these, "
                        "with their correct answers")
    assert len(notes) == 2 and notes[1].startswith("Held-out mistake (")
