"""`benchmarks/summaries.py`: the summary lines `run.py` prints, computed from
made-up run results so that every ratio can be checked by hand."""

import pytest
from conftest import import_benchmark

summaries = import_benchmark("summaries")


def run(impl, round_index, images_per_sec, elbo, epoch_s, **fields):
    result = {
        "impl": impl,
        "round": round_index,
        "images_per_sec": images_per_sec,
        "test_neg_elbo": elbo,
        "epoch_s": epoch_s,
        "first_step_s": 1.0,
        "peak_rss_mb": 100.0 + round_index,
        "train_gflop_per_image": 0.01,
    }
    if impl == "keras_vae":
        result.update(backend="tensorflow", precision="float32")
    return {**result, **fields}


def ref(round_index, images_per_sec, elbo, epoch_s, memory_format):
    return run(
        "torch_reference",
        round_index,
        images_per_sec,
        elbo,
        epoch_s,
        memory_format=memory_format,
    )


def two_layouts():
    """Two rounds whose speeds differ, so that pairing runs across rounds,
    or averaging the rounds' references, would give other ratios."""
    return [
        ref(0, 1000.0, 250.0, [9, 8], "channels_first"),
        ref(0, 1250.0, 250.5, [9, 6], "channels_last"),
        run("keras_vae", 0, 1500.0, 251.0, [6, 4]),
        run("keras_vae", 1, 3000.0, 249.0, [3, 2]),
        ref(1, 2000.0, 252.0, [5, 4], "channels_first"),
        ref(1, 2400.0, 252.5, [4, 3], "channels_last"),
    ]


def test_each_reference_layout_gets_its_own_ratios_paired_by_round():
    peaks = {"tensorflow": {"float32_gflop_per_sec": 60.0}}
    package, plain, nhwc = summaries.summarize("conv", two_layouts(), peaks)
    assert package["impl"] == "keras_vae" and package["runs"] == 2
    # Round 0: 1500 / 1000 and 1500 / 1250; round 1: 3000 / 2000, 3000 / 2400.
    assert package["speed_vs_reference_by_round"] == [1.5, 1.5]
    assert package["speed_vs_reference_channels_last_by_round"] == [1.2, 1.25]
    assert package["speed_vs_reference"] == 1.5
    assert package["speed_vs_reference_channels_last"] == 1.225
    # Fastest steady epochs (the first is dropped): 8/4, 4/2; 6/4, 3/2.
    assert package["speed_vs_reference_best_epoch"] == 2.0
    assert package["speed_vs_reference_channels_last_best_epoch"] == 1.5
    # Median package ELBO 250.0 against each layout's median.
    assert package["neg_elbo_minus_reference"] == -1.0
    assert package["neg_elbo_minus_reference_channels_last"] == -1.5
    assert package["gflop_per_sec"] == 22.5  # 2250 images/s x 0.01
    assert package["share_of_matmul_peak"] == 0.375
    assert plain["impl"] == nhwc["impl"] == "torch_reference"
    assert plain["memory_format"] == "channels_first"
    assert nhwc["memory_format"] == "channels_last"
    assert plain["images_per_sec"] == 1500.0 and nhwc["images_per_sec"] == 1825.0
    assert plain["test_neg_elbo_range"] == [250.0, 252.0]
    assert nhwc["peak_rss_mb"] == 101.0


def test_the_plain_reference_alone_keeps_the_unsuffixed_fields():
    # Result files written before the layouts were named have no
    # memory_format: they are the plain NCHW reference.
    results = [
        {k: v for k, v in r.items() if k != "memory_format"}
        for r in two_layouts()
        if r.get("memory_format") != "channels_last"
    ]
    package, plain = summaries.summarize("conv", results)
    assert package["speed_vs_reference_by_round"] == [1.5, 1.5]
    assert not any("channels_last" in name for name in package)
    assert plain["memory_format"] == "channels_first"
    assert "share_of_matmul_peak" not in package  # no peaks were measured


def test_a_channels_last_reference_alone_is_named_as_such():
    results = [r for r in two_layouts() if r.get("memory_format") != "channels_first"]
    package, nhwc = summaries.summarize("conv", results)
    assert package["speed_vs_reference_channels_last_by_round"] == [1.2, 1.25]
    assert "speed_vs_reference" not in package
    assert nhwc["memory_format"] == "channels_last"


def test_mixed_precision_runs_pair_with_float32_of_their_round():
    results = [
        run("keras_vae", 0, 1000.0, 250.0, [2, 1]),
        run("keras_vae", 0, 1300.0, 250.4, [2, 1], precision="mixed_bfloat16"),
        run("keras_vae", 1, 2000.0, 260.0, [2, 1]),
        run("keras_vae", 1, 2200.0, 259.0, [2, 1], precision="mixed_bfloat16"),
    ]
    float32, bf16 = summaries.summarize("dcgan", results)
    assert float32["precision"] == "float32" and "speed_vs_float32" not in float32
    assert bf16["speed_vs_float32_by_round"] == [1.3, 1.1]
    assert bf16["neg_elbo_minus_float32_by_seed"] == pytest.approx([0.4, -1.0])
    assert bf16["speed_vs_float32"] == pytest.approx(1750 / 1500, abs=5e-4)
