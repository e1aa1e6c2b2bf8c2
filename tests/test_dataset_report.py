"""Health report: each check of Meta's dataset checklist fires on data built to trip it, else stays quiet."""

from __future__ import annotations

from tools.dataset.report import health_report, length_stats, render_report_markdown, unsupported_tokens
from tools.dataset.schema import AlpacaSample


def labelled(counts: dict[str, int]) -> list[AlpacaSample]:
    return [
        AlpacaSample(instruction="Classify the ticket.", input=f"ticket {label} {i}", output=label)
        for label, n in counts.items()
        for i in range(n)
    ]


def test_length_stats():
    assert length_stats(["a" * n for n in range(1, 21)]) == {"min": 1, "median": 10, "p95": 19, "max": 20}
    assert length_stats([]) == {"min": 0, "median": 0, "p95": 0, "max": 0}


def test_imbalanced_labels_are_counted_and_warned():
    report = health_report(labelled({"billing": 40, "bug": 8, "refund": 2}))
    assert report["labels"]["counts"] == {"billing": 40, "bug": 8, "refund": 2}
    assert report["labels"]["imbalance_ratio"] == 20.0
    assert any("Labels are imbalanced (20.0:1" in w and "'refund'" in w for w in report["warnings"])


def test_balanced_labels_and_free_text_do_not_warn():
    balanced = health_report(labelled({"yes": 30, "no": 30}))
    assert balanced["labels"]["majority_share"] == 0.5
    assert not any("Labels" in w for w in balanced["warnings"])
    free = [
        AlpacaSample(instruction=f"Question {i}", output=f"A long free answer number {i}") for i in range(60)
    ]
    assert health_report(free)["labels"] is None


def test_refusal_share_warns_over_ten_percent():
    samples = [AlpacaSample(instruction=f"Task {i}", output="Done.") for i in range(16)]
    samples += [
        AlpacaSample(instruction="Hack it", output="I can't help with that."),
        AlpacaSample(instruction="Opinion?", output="As an AI, I have no opinions."),
        AlpacaSample(instruction="Tell me", output="I'm sorry, but I cannot share that."),
    ]
    report = health_report(samples)
    assert report["refusals"]["count"] == 3 and report["refusals"]["share"] == round(3 / 19, 3)
    assert any("look like refusals" in w for w in report["warnings"])
    assert not any("refusals" in w for w in health_report(samples[:17])["warnings"])  # 1 of 17 < 10%


def test_unsupported_tokens_heuristic():
    grounded = AlpacaSample(
        instruction="Who founded the shop?",
        input="Maria Rossi opened it in 1998.",
        output="It was founded by Maria Rossi in 1998.",
    )
    invented = AlpacaSample(
        instruction="Who founded the shop?",
        input="It is a small bakery.",
        output="It was founded by Giulia Bianchi in 1,250.",
    )
    assert unsupported_tokens(grounded) == []
    assert unsupported_tokens(invented) == ["1,250", "Giulia", "Bianchi"]
    report = health_report([grounded, invented], ids=["a:1", "a:2"])
    assert report["unsupported"]["examples"] == [{"id": "a:2", "tokens": ["1,250", "Giulia", "Bianchi"]}]
    assert "heuristic" in report["unsupported"]["note"]


def test_system_prompt_consistency_and_multi_turn_share():
    samples = [AlpacaSample(instruction=f"Q{i}", output="A", system="Be brief.") for i in range(3)]
    samples += [
        AlpacaSample(instruction="Q9", output="A", system="Be verbose."),
        AlpacaSample(instruction="Q10", output="A", history=[("Hi", "Hello")]),
    ]
    report = health_report(samples, drops={"exact_duplicate": 2})
    assert report["system_prompts"]["distinct"] == 2 and report["system_prompts"]["without_system"] == 1
    assert report["multi_turn"]["count"] == 1 and report["multi_turn"]["share"] == 0.2
    assert report["dropped"] == 2
    warnings = " ".join(report["warnings"])
    assert "2 different system prompts" in warnings and "1 samples have no system prompt" in warnings
    assert "Only 5 samples" in warnings


def test_markdown_rendering_lists_counts_checks_and_warnings():
    report = health_report(labelled({"billing": 40, "bug": 2}), drops={"near_duplicate": 3})
    markdown = render_report_markdown(report)
    assert markdown.startswith("# Dataset health report")
    assert "- Samples: 42; dropped: 3" in markdown and "  - near_duplicate: 3" in markdown
    assert "| output | 3 | 7 | 7 | 7 |" in markdown
    assert "- Labels: billing: 40, bug: 2" in markdown
    assert "Labels are imbalanced" in markdown


def test_conflicting_answers_to_the_same_question_are_flagged():
    samples = [
        AlpacaSample(instruction="Is the service up?", input="status page green", output="Yes."),
        AlpacaSample(instruction="is the service up", input="Status page green.", output="No."),
        AlpacaSample(instruction="Is the service up?", input="status page red", output="No."),
    ]
    report = health_report(samples, ids=["f:1", "f:2", "f:3"])
    assert report["conflicting_answers"] == {"count": 1, "examples": [["f:1", "f:2"]]}
    assert any("1 questions appear with different answers (e.g. f:1, f:2)" in w for w in report["warnings"])
    assert "- Questions with conflicting answers: 1" in render_report_markdown(report)


def test_uneven_reviewer_tags_are_reported_and_warned():
    samples = labelled({"a": 10, "b": 10})
    report = health_report(samples, tag_counts={"billing": 16, "shipping": 3})
    assert report["tags"] == {"billing": 16, "shipping": 3}
    warning = next(w for w in report["warnings"] if "Reviewer tags" in w)
    assert "'shipping' has 3 samples against 16 for 'billing'" in warning
    assert "- Reviewer tags: billing: 16, shipping: 3" in render_report_markdown(report)
    even = health_report(samples, tag_counts={"billing": 8, "shipping": 5})
    assert not any("Reviewer tags" in w for w in even["warnings"])
    assert health_report(samples)["tags"] is None


def test_numbers_an_instruction_asks_to_work_out_are_not_flagged_as_invented():
    assert unsupported_tokens(AlpacaSample(instruction="Convert 5 kilometres to metres.",
                                           output="5 kilometres is 5000 metres.")) == []
    assert unsupported_tokens(AlpacaSample(instruction="Count the vowels in the word.", input="banana",
                                           output="3")) == []
    assert unsupported_tokens(AlpacaSample(instruction="When was the book written?", input="Pride and Prejudice",
                                           output="Jane Austen wrote it in 1813.")) == ["1813", "Austen"]
