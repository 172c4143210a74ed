"""The summary lines `run.py` prints after a model workload's runs: medians
over rounds, each package run's ratio to the reference run of its own round
(so that machine drift cancels), ELBO differences, and GFLOP/s as a share of
the matrix-product peak. Pure functions of the runs' result dicts."""

import statistics

PEAK_FIELDS = {
    "float32": "float32_gflop_per_sec",
    "mixed_bfloat16": "bfloat16_gflop_per_sec",
}


def add_flops(summary, flop_per_image, peak, precision):
    """The summary's GFLOP/s (`flops.py`'s count times its images/s), and
    that as a share of the backend's matrix-product peak at `precision`."""
    if not flop_per_image:
        return
    summary["gflop_per_sec"] = round(summary["images_per_sec"] * flop_per_image, 1)
    peak_gflop = (peak or {}).get(PEAK_FIELDS.get(precision))
    if peak_gflop:
        summary["share_of_matmul_peak"] = round(
            summary["gflop_per_sec"] / peak_gflop, 3
        )


def _spread(runs):
    """[lowest, highest] test neg. ELBO of the runs (one per seed)."""
    values = [r["test_neg_elbo"] for r in runs]
    return [min(values), max(values)]


def _best_epoch_ratios(runs, references):
    """Per round: the reference's fastest steady epoch (epochs 2 onwards)
    over the package's. Each side's least disturbed epoch, as `timeit` takes
    the minimum: a figure less moved by other load on the machine than the
    medians, reported beside them, not instead."""
    ratios = []
    for run in runs:
        for ref in references:
            if ref["round"] != run["round"]:
                continue
            mine, theirs = run.get("epoch_s", [])[1:], ref.get("epoch_s", [])[1:]
            if mine and theirs and min(mine) > 0:
                ratios.append(min(theirs) / min(mine))
    return ratios


def _paired_with_float32(runs, float32_runs):
    """Each round's images/s ratio and neg. ELBO difference to the float32
    run of the same round, which ran beside it on the same seed."""
    base = {r["round"]: r for r in float32_runs}
    pairs = [
        (r, base[r["round"]])
        for r in sorted(runs, key=lambda r: r["round"])
        if r["round"] in base
    ]
    speed = [  # None where a run was too short to time
        round(r["images_per_sec"] / b["images_per_sec"], 3)
        if b["images_per_sec"]
        else None
        for r, b in pairs
    ]
    elbo = [round(r["test_neg_elbo"] - b["test_neg_elbo"], 3) for r, b in pairs]
    return speed, elbo


def summarize(workload, results, peaks=None):
    """The summary lines of one workload's runs: one per package backend and
    precision (medians over rounds, each round's ratio to the reference run
    of the same round, for each reference layout), then one per reference
    layout. `peaks`: {backend: peak_job result}."""
    peaks, out = peaks or {}, []
    # The reference trains the same model, so the package's count is its too.
    flop_per_image = next(
        (r["train_gflop_per_image"] for r in results if "train_gflop_per_image" in r),
        None,
    )
    references = {}
    for r in results:
        if r["impl"] == "torch_reference":
            fmt = r.get("memory_format", "channels_first")
            references.setdefault(fmt, []).append(r)
    groups = {}
    for r in results:
        if r["impl"] == "keras_vae":
            groups.setdefault((r["backend"], r["precision"]), []).append(r)
    float32 = {b: g for (b, p), g in groups.items() if p == "float32"}
    for (backend, precision), runs in sorted(groups.items()):
        summary = {
            "summary": True,
            "workload": workload,
            "impl": "keras_vae",
            "backend": backend,
            "precision": precision,
            "runs": len(runs),
            "images_per_sec": statistics.median(r["images_per_sec"] for r in runs),
            "first_step_s": statistics.median(r["first_step_s"] for r in runs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "test_neg_elbo": statistics.median(r["test_neg_elbo"] for r in runs),
            "test_neg_elbo_range": _spread(runs),
        }
        add_flops(summary, flop_per_image, peaks.get(backend), precision)
        for fmt, refs in references.items():
            # The plain NCHW loop is "the reference"; other layouts are named.
            suffix = "" if fmt == "channels_first" else f"_{fmt}"
            summary.update(_vs_reference(summary, runs, refs, suffix))
        if precision != "float32" and backend in float32:
            base = statistics.median(r["images_per_sec"] for r in float32[backend])
            if base:  # 0 when a run was too short to time
                summary["speed_vs_float32"] = round(summary["images_per_sec"] / base, 3)
            base_elbo = statistics.median(r["test_neg_elbo"] for r in float32[backend])
            summary["neg_elbo_minus_float32"] = round(
                summary["test_neg_elbo"] - base_elbo, 3
            )
            speed, elbo = _paired_with_float32(runs, float32[backend])
            summary["speed_vs_float32_by_round"] = speed
            summary["neg_elbo_minus_float32_by_seed"] = elbo
        out.append(summary)
    for fmt, refs in references.items():
        summary = {
            "summary": True,
            "workload": workload,
            "impl": "torch_reference",
            "memory_format": fmt,
            "runs": len(refs),
            "images_per_sec": statistics.median(r["images_per_sec"] for r in refs),
            "test_neg_elbo": statistics.median(r["test_neg_elbo"] for r in refs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in refs),
            "test_neg_elbo_range": _spread(refs),
        }
        add_flops(summary, flop_per_image, peaks.get("torch"), "float32")
        out.append(summary)
    return out


def _vs_reference(summary, runs, references, suffix):
    """The package runs' speed and ELBO against one layout's reference runs:
    each round's images/s ratio to the reference of the same round, their
    median, the fastest-epoch ratio, and the median ELBO difference. Field
    names end in `suffix` (empty for the plain NCHW reference)."""
    ref_by_round = {r["round"]: r["images_per_sec"] for r in references}
    ratios = [
        r["images_per_sec"] / ref_by_round[r["round"]]
        for r in sorted(runs, key=lambda r: r["round"])
        if ref_by_round.get(r["round"])
    ]
    if not ratios:
        return {}
    fields = {
        "speed_vs_reference": round(statistics.median(ratios), 3),
        "speed_vs_reference_by_round": [round(x, 3) for x in ratios],
    }
    best = _best_epoch_ratios(runs, references)
    if best:
        fields["speed_vs_reference_best_epoch"] = round(statistics.median(best), 3)
    ref_elbo = statistics.median(r["test_neg_elbo"] for r in references)
    fields["neg_elbo_minus_reference"] = round(summary["test_neg_elbo"] - ref_elbo, 3)
    return {
        name.replace("_reference", f"_reference{suffix}", 1): value
        for name, value in fields.items()
    }
