"""Markdown tables from `run.py`'s JSON lines: `python benchmarks/tables.py
results/*.jsonl`. The matrix-product peaks, then one row per measurement,
then the summaries; a column shows only where some line has its field."""

import json
import sys

RUN_COLUMNS = (
    "workload",
    "impl",
    "backend",
    "precision",
    "memory_format",
    "round",
    "images_per_sec",
    "first_step_s",
    "peak_rss_mb",
    "test_neg_elbo",
    "input_share_bound",
)
SUMMARY_COLUMNS = (
    "workload",
    "impl",
    "backend",
    "precision",
    "memory_format",
    "runs",
    "images_per_sec",
    "speed_vs_reference",
    "speed_vs_reference_by_round",
    "speed_vs_reference_best_epoch",
    "neg_elbo_minus_reference",
    "speed_vs_reference_channels_last",
    "speed_vs_reference_channels_last_by_round",
    "speed_vs_reference_channels_last_best_epoch",
    "neg_elbo_minus_reference_channels_last",
    "test_neg_elbo_range",
    "speed_vs_float32",
    "speed_vs_float32_by_round",
    "neg_elbo_minus_float32",
    "neg_elbo_minus_float32_by_seed",
    "gflop_per_sec",
    "share_of_matmul_peak",
)
PEAK_COLUMNS = (
    "backend",
    "rows",
    "float32_gflop_per_sec",
    "bfloat16_gflop_per_sec",
    "bfloat16_float32_result_gflop_per_sec",
)


def table(rows, columns):
    """A Markdown table of the columns that at least one row has."""
    columns = [c for c in columns if any(c in row for row in rows)]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column, "")
            if column in ("images_per_sec", "peak_rss_mb"):
                value = f"{value:,.0f}"
            elif isinstance(value, float):
                value = f"{value:.3f}" if "vs" in column else f"{value:.2f}"
            cells.append(str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(paths):
    rows = []
    for path in paths:
        with open(path) as f:
            rows += [json.loads(line) for line in f if line.startswith("{")]
    models = [r for r in rows if "test_neg_elbo" in r and not r.get("summary")]
    summaries = [r for r in rows if r.get("summary") and "runs" in r]
    peaks = [r for r in rows if r.get("impl") == "matmul"]
    if peaks:
        print(table(peaks, PEAK_COLUMNS), end="\n\n")
    if models:
        print(table(models, RUN_COLUMNS), end="\n\n")
    if summaries:
        print(table(summaries, SUMMARY_COLUMNS))


if __name__ == "__main__":
    main(sys.argv[1:])
