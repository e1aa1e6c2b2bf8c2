"""Readers: every supported format, format detection, and a clear message for every malformed input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.dataset import readers
from tools.dataset.readers import SampleStream, parse_pasted_text, read_samples
from tools.dataset.schema import AlpacaSample
from tools.errors import UserError


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def jsonl(rows: list) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def test_alpaca_json_array_with_every_field(tmp_path):
    record = {
        "instruction": "Add",
        "input": "2 3",
        "output": "5",
        "system": "Be brief.",
        "history": [["Hi", "Hello"]],
    }
    result = read_samples(write(tmp_path, "a.json", json.dumps([record])))
    assert result.format == "alpaca-json"
    assert result.rows_read == 1 and result.problems == []
    assert result.samples == [
        AlpacaSample(
            instruction="Add", input="2 3", output="5", system="Be brief.", history=[("Hi", "Hello")]
        )
    ]


def test_alpaca_jsonl_defaults_optional_fields_and_accepts_numbers(tmp_path):
    result = read_samples(
        write(tmp_path, "a.jsonl", jsonl([{"instruction": "Count", "output": 3, "input": None}]))
    )
    assert result.format == "alpaca-jsonl"
    assert result.samples == [AlpacaSample(instruction="Count", output="3")]


def test_sharegpt_multi_turn_becomes_history_and_system(tmp_path):
    record = {
        "conversations": [
            {"from": "system", "value": "Be kind."},
            {"from": "human", "value": "Hi"},
            {"from": "gpt", "value": "Hello"},
            {"from": "human", "value": "Bye"},
            {"from": "gpt", "value": "See you"},
        ]
    }
    result = read_samples(write(tmp_path, "s.json", json.dumps([record])))
    assert result.format == "sharegpt-json"
    assert result.samples == [
        AlpacaSample(instruction="Bye", output="See you", system="Be kind.", history=[("Hi", "Hello")])
    ]


def test_sharegpt_top_level_system_column(tmp_path):
    record = {
        "conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}],
        "system": "S",
    }
    assert read_samples(write(tmp_path, "s.jsonl", jsonl([record]))).samples[0].system == "S"


def test_openai_chat_jsonl_with_text_parts(tmp_path):
    record = {
        "messages": [
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": [{"type": "text", "text": "Bye"}]},
            {"role": "assistant", "content": "Ciao"},
        ]
    }
    result = read_samples(write(tmp_path, "o.jsonl", jsonl([record])))
    assert result.format == "openai-jsonl"
    assert result.samples == [
        AlpacaSample(instruction="Bye", output="Ciao", system="Be kind.", history=[("Hi", "Hello")])
    ]


def test_single_json_object_file_is_one_record(tmp_path):
    text = json.dumps({"instruction": "Q", "output": "A"}, indent=2)
    result = read_samples(write(tmp_path, "one.json", text))
    assert result.rows_read == 1 and len(result.samples) == 1


def test_csv_with_optional_system_and_ignored_column(tmp_path):
    text = 'instruction,input,output,system,notes\n"Add, please",2 3,5,Be brief.,x\nSay hi,,Hi,,y\n'
    result = read_samples(write(tmp_path, "d.csv", text))
    assert result.format == "csv"
    assert result.samples == [
        AlpacaSample(instruction="Add, please", input="2 3", output="5", system="Be brief."),
        AlpacaSample(instruction="Say hi", output="Hi"),
    ]
    assert result.notes == ["ignored columns: notes"]


def test_ignored_json_fields_are_reported_not_silent(tmp_path):
    result = read_samples(write(tmp_path, "a.jsonl", jsonl([{"instruction": "Q", "output": "A", "id": 7}])))
    assert len(result.samples) == 1
    assert result.notes == ["ignored fields that no format uses: id"]


def test_pasted_instruction_blocks():
    text = (
        "Instruction: Translate to French.\nInput: Good night\nOutput: Bonne nuit\n\n"
        "instruction: List two fruits.\noutput: Apple\n\nPear\n\n"
        "Instruction: No answer here\n"
    )
    result = parse_pasted_text(text)
    assert result.format == "text-blocks" and result.rows_read == 3
    assert result.samples == [
        AlpacaSample(instruction="Translate to French.", input="Good night", output="Bonne nuit"),
        AlpacaSample(instruction="List two fruits.", output="Apple\n\nPear"),
    ]
    assert [(p.row, p.field, p.code) for p in result.problems] == [(3, "output", "missing_field")]
    assert "line 10" in result.problems[0].message and "'Output:'" in result.problems[0].message


def test_pasted_json_and_unlabelled_text():
    assert len(parse_pasted_text('[{"instruction": "Q", "output": "A"}]').samples) == 1
    result = parse_pasted_text("just some words\n")
    assert result.samples == [] and "Instruction:" in result.problems[0].message
    with pytest.raises(UserError, match="empty"):
        parse_pasted_text("   \n")


def test_text_file_is_read_as_blocks(tmp_path):
    result = read_samples(write(tmp_path, "notes.txt", "Instruction: Q\nOutput: A\n"))
    assert result.samples == [AlpacaSample(instruction="Q", output="A")]


# ---------------------------------------------------------------- malformed input


def test_broken_json_array_names_line_and_column(tmp_path):
    path = write(tmp_path, "bad.json", '[\n  {"instruction": "Q", "output": "A"}\n  {"instruction": "R"}\n]')
    with pytest.raises(UserError) as err:
        read_samples(path)
    assert "bad.json: broken JSON at line 3, column 3" in err.value.message
    assert "missing comma" in err.value.message


def test_broken_jsonl_line_is_a_row_problem_and_the_rest_is_read(tmp_path):
    text = '{"instruction": "Q", "output": "A"}\n\n{"instruction": "R", "output": \n'
    result = read_samples(write(tmp_path, "bad.jsonl", text))
    assert len(result.samples) == 1 and result.rows_read == 2
    problem = result.problems[0]
    assert (problem.row, problem.code) == (3, "broken_json")
    assert "line 3 is not valid JSON" in problem.message


def test_every_row_problem_names_the_field_and_the_fix(tmp_path):
    rows = [
        {"instruction": "Q", "output": {"a": 1}},
        {"instruction": "Q", "output": ["x"]},
        {"instruction": "Q", "output": "A", "history": [["only one"]]},
        {"instruction": "Q", "output": "A", "history": {"q": "a"}},
        {"instruction": " ", "output": "A"},
        {"question": "Q", "answer": "A"},
        ["not", "an", "object"],
        {"instruction": "Q", "output": True},
    ]
    result = read_samples(write(tmp_path, "rows.jsonl", jsonl(rows)))
    assert result.samples == [] and result.rows_read == len(rows)
    got = [(p.row, p.field, p.code) for p in result.problems]
    assert got == [
        (1, "output", "wrong_type"),
        (2, "output", "wrong_type"),
        (3, "history", "bad_history"),
        (4, "history", "bad_history"),
        (5, "instruction", "empty_instruction"),
        (6, "instruction", "missing_field"),
        (7, None, "not_an_object"),
        (8, "output", "wrong_type"),
    ]
    messages = [p.message for p in result.problems]
    assert "store it as a JSON string" in messages[0]
    assert "[instruction, answer] pairs" in messages[2] and '["only one"]' in messages[2]
    assert "fields found: answer, question" in messages[5]


def test_chat_records_with_wrong_turn_order_or_tools(tmp_path):
    rows = [
        {"conversations": [{"from": "gpt", "value": "A"}, {"from": "human", "value": "Q"}]},
        {"conversations": [{"from": "human", "value": "Q"}]},
        {"messages": [{"role": "user", "content": "Q"}, {"role": "tool", "content": "{}"}]},
        {"messages": [{"role": "user"}]},
        {"conversations": []},
    ]
    result = read_samples(write(tmp_path, "chat.jsonl", jsonl(rows)))
    assert [p.code for p in result.problems] == ["bad_conversation"] * 5
    assert "found: assistant → user" in result.problems[0].message
    assert "tool/function turns are not supported" in result.problems[2].message
    assert "'role' and 'content'" in result.problems[3].message


def test_csv_missing_columns_are_named_with_the_expected_ones(tmp_path):
    with pytest.raises(UserError) as err:
        read_samples(write(tmp_path, "d.csv", "question,answer\nQ,A\n"))
    assert "missing column(s) instruction, output" in err.value.message
    assert "expected columns instruction, input, output" in err.value.message
    assert "found: question, answer" in err.value.message


def test_csv_rows_with_wrong_cell_counts(tmp_path):
    text = "instruction,input,output\nQ,,A\nQ2,x,A2,extra\nQ3\n"
    result = read_samples(write(tmp_path, "d.csv", text))
    assert len(result.samples) == 1
    assert [(p.row, p.code) for p in result.problems] == [(2, "wrong_cell_count"), (3, "wrong_cell_count")]
    assert "quote cells that contain commas" in result.problems[0].message


def test_non_utf8_file_says_the_byte_offset_and_how_to_fix(tmp_path):
    content = b'{"instruction": "Caf' + b"\xe9" + b'", "output": "A"}\n'
    with pytest.raises(UserError) as err:
        read_samples(write(tmp_path, "latin1.jsonl", content))
    assert "byte offset 20" in err.value.message and "re-save the file as UTF-8" in err.value.message


def test_utf8_bom_is_accepted(tmp_path):
    path = write(tmp_path, "bom.json", b"\xef\xbb\xbf" + b'[{"instruction": "Q", "output": "A"}]')
    assert len(read_samples(path).samples) == 1


def test_empty_missing_and_oversized_files(tmp_path):
    with pytest.raises(UserError, match="the file is empty"):
        read_samples(write(tmp_path, "empty.jsonl", "\n \n"))
    with pytest.raises(UserError, match="no such file"):
        read_samples(tmp_path / "nope.json")
    big = write(tmp_path, "big.jsonl", jsonl([{"instruction": "Q", "output": "A" * 2000}]))
    with pytest.raises(UserError, match="over the 0 MB limit; split the file"):
        read_samples(big, max_bytes=1000)


# ---------------------------------------------------------------- streaming (a piece at a time)


@pytest.mark.parametrize("chunk", [1, 3, 7, 64])
def test_json_array_read_in_small_pieces_gives_the_same_rows(tmp_path, monkeypatch, chunk):
    rows = [{"instruction": f"Qué {i} \u00e9\u4e2d \\u escape \"q\"", "input": "", "output": str(12345 + i),
             "history": [["a", "b"]] if i % 2 else []} for i in range(6)]
    path = write(tmp_path, "rows.json", json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    whole = read_samples(path)
    monkeypatch.setattr(readers, "_CHUNK", chunk)
    pieces = read_samples(path)
    assert pieces.samples == whole.samples and len(pieces.samples) == 6
    assert (pieces.rows_read, pieces.format) == (6, "alpaca-json")


@pytest.mark.parametrize("chunk", [2, 5, 1 << 20])
def test_errors_found_while_streaming_say_where_they_are(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(readers, "_CHUNK", chunk)
    broken = write(tmp_path, "bad.json", '[\n  {"instruction": "Q", "output": "A"},\n  {"instruction": "R" "x"}\n]')
    with pytest.raises(UserError) as err:
        read_samples(broken)
    assert "bad.json: broken JSON at line 3, column 23" in err.value.message and err.value.exit_code == 1
    latin = write(tmp_path, "latin.json", b'[\n{"instruction": "Caf\xe9", "output": "A"}]')
    with pytest.raises(UserError) as err:
        read_samples(latin)
    assert "byte 0xe9 at byte offset 22, line 2" in err.value.message


def test_a_big_jsonl_file_is_read_without_holding_it(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps({"instruction": f"Q{i}", "output": "A"}) + "\n" for i in range(50_000)))
    stream = SampleStream(path)
    seen = sum(1 for _, item in stream if isinstance(item, AlpacaSample))
    assert seen == 50_000 and stream.rows_read == 50_000 and stream.format == "alpaca-jsonl"
