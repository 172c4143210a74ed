"""`benchmarks/tables.py`: Markdown tables from `run.py`'s JSON lines."""

import json

from conftest import import_benchmark

tables = import_benchmark("tables")


def header_and_rows(text):
    lines = [line for line in text.splitlines() if line.startswith("|")]
    split = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return split[0], split[2:]


def test_tables_show_the_columns_some_line_has(tmp_path, capsys):
    lines = [
        {"impl": "torch_reference", "round": 0, "images_per_sec": 2000.4,
         "test_neg_elbo": 250.123, "memory_format": "channels_last"},
        {"summary": True, "runs": 1, "workload": "conv", "impl": "keras_vae",
         "images_per_sec": 3000.0, "speed_vs_reference_channels_last": 1.5},
    ]  # fmt: skip
    path = tmp_path / "run.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    tables.main([str(path)])
    runs, summaries = capsys.readouterr().out.split("\n\n")
    header, rows = header_and_rows(runs)
    assert header == [
        "impl",
        "memory_format",
        "round",
        "images_per_sec",
        "test_neg_elbo",
    ]
    assert rows == [["torch_reference", "channels_last", "0", "2,000", "250.12"]]
    header, rows = header_and_rows(summaries)
    assert header == [
        "workload",
        "impl",
        "runs",
        "images_per_sec",
        "speed_vs_reference_channels_last",
    ]
    assert rows == [["conv", "keras_vae", "1", "3,000", "1.500"]]
