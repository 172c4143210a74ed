"""Smoke runs of every benchmark workload on tiny generated data: the suite
keeps working and prints the fields RESULTS.md is made of. Speeds are not
asserted (they belong to benchmarks/, not to tests)."""

import importlib.util
import json
import os
import statistics
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import REPO
from conftest import import_benchmark
from test_data_idx import write_idx

import keras_vae

MODEL_FIELDS = {
    "impl",
    "backend",
    "device",
    "images_per_sec",
    "first_step_s",
    "import_s",
    "peak_rss_mb",
    "train_s",
    "test_neg_elbo",
    "test_reconstruction",
    "test_kl",
    "round",
}
SUMMARY_FIELDS = {
    "images_per_sec",
    "first_step_s",
    "peak_rss_mb",
    "test_neg_elbo",
    "speed_vs_reference",
    "neg_elbo_minus_reference",
    "test_neg_elbo_range",
}
# Training FLOPs per image of the benchmark models, counted by hand: 2 x (3 x
# the forward multiply-adds - the first layer's, whose input gradient no
# framework computes). Conv2D: output positions x kernel size; transposed:
# input positions x kernel size; Dense: kernel size.
MLP_MACS = 784 * 400 + 2 * 400 * 20 + 20 * 400 + 400 * 784
CONV_MACS = (
    14 * 14 * 9 * 32  # encoder 1 -> 32, stride 2, to 14x14
    + 7 * 7 * 9 * 32 * 64  # 32 -> 64, to 7x7
    + 7 * 7 * 64 * 32  # Dense(32)
    + 2 * 32 * 16  # the two heads, latent 16
    + 16 * 7 * 7 * 64  # decoder Dense
    + 7 * 7 * 9 * 64 * 64  # transposed 64 -> 64, from 7x7
    + 14 * 14 * 9 * 64 * 32  # 64 -> 32, from 14x14
    + 28 * 28 * 9 * 32  # 32 -> 1 logits, stride 1
)
DCGAN_MACS = (
    14 * 14 * 16 * 64  # 4x4 kernels, 1 -> 64
    + 7 * 7 * 16 * 64 * 128
    + 2 * 7 * 7 * 128 * 32  # heads, latent 32
    + 32 * 7 * 7 * 128
    + 7 * 7 * 16 * 128 * 64  # transposed, from 7x7
    + 14 * 14 * 16 * 64  # logits, from 14x14
)
# What `run.py --fixed_malloc` (the default) sets for every model job.
FIXED_MALLOC = {
    "MALLOC_MMAP_THRESHOLD_": "1073741824",
    "MALLOC_TRIM_THRESHOLD_": "1073741824",
}
TRAIN_GFLOP_PER_IMAGE = {
    "mlp": 2 * (3 * MLP_MACS - 784 * 400) / 1e9,
    "conv": 2 * (3 * CONV_MACS - 14 * 14 * 9 * 32) / 1e9,
    "dcgan": 2 * (3 * DCGAN_MACS - 14 * 14 * 16 * 64) / 1e9,
}
# The reference needs PyTorch, which only the torch environment installs.
HAS_TORCH = importlib.util.find_spec("torch") is not None
TF_ONLY = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="tf.data workloads: run once, in the TensorFlow environment",
)


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fashion")
    rng = np.random.default_rng(0)
    for name, count in (("train", 256), ("t10k", 64)):
        pixels = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        write_idx(folder / f"{name}-images-idx3-ubyte", pixels)
    return str(folder)


def bench(*args):
    done = subprocess.run(
        [sys.executable, os.path.join(REPO, "benchmarks", "run.py"), *args],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines, done.stderr[-3000:]
    return lines


@pytest.mark.parametrize("workload", ["mlp", "conv", "dcgan"])
def test_model_workloads_print_runs_and_summaries(idx_dir, workload):
    backend = keras.backend.backend()
    # The convolutional references also run in PyTorch's channels_last layout.
    layouts = ["channels_first"] + (["channels_last"] if workload != "mlp" else [])
    lines = bench(
        f"--workload={workload}",
        f"--backend={backend}",
        f"--data_dir={idx_dir}",
        "--epochs=2",
        "--steps=2",
        "--batch_size=32",
        "--test_examples=64",
        "--reference" if HAS_TORCH else "--noreference",
        f"--reference_memory_format={','.join(layouts)}",
        "--peak_rows=256",
    )
    peaks = {line["backend"]: line for line in lines if line["impl"] == "matmul"}
    assert set(peaks) == ({backend, "torch"} if HAS_TORCH else {backend})
    for peak in peaks.values():
        assert peak["float32_gflop_per_sec"] > 0 and peak["bfloat16_gflop_per_sec"] > 0
        extra = peak.get("bfloat16_float32_result_gflop_per_sec")
        assert (extra > 0) if peak["backend"] == "jax" else (extra is None)
    runs = [
        line for line in lines if not line.get("summary") and line["impl"] != "matmul"
    ]
    impls = ["torch_reference"] * len(layouts) if HAS_TORCH else []
    assert [r["impl"] for r in runs] == [*impls, "keras_vae"]
    references = runs[:-1]
    assert [r["memory_format"] for r in references] == layouts[: len(references)]
    if len(references) == 2:  # the same model from the same seed, laid out anew
        plain, nhwc = (r["test_neg_elbo"] for r in references)
        assert nhwc == pytest.approx(plain, abs=0.01)
    for run in runs:
        assert MODEL_FIELDS <= set(run), MODEL_FIELDS - set(run)
        assert run["images_per_sec"] > 0 and np.isfinite(run["test_neg_elbo"])
        assert run["malloc_env"] == FIXED_MALLOC  # package and reference alike
    package = runs[-1]
    assert package["backend"] == backend and len(package["epoch_s"]) == 2
    assert 0 <= package["input_share_bound"]
    # "auto" takes the sub-pixel form on JAX only (here: its CPU backend).
    strided = {"mlp": 0, "conv": 2, "dcgan": 1}[workload]
    assert package["sub_pixel_layers"] == (strided if backend == "jax" else 0)
    # keras_vae's BatchNormalization takes TF's and PyTorch's fused kernels.
    fused = 3 if workload == "dcgan" and backend != "jax" else 0
    assert package["fused_batch_norm_layers"] == fused
    summary = next(
        line for line in lines if line.get("summary") and line["impl"] == "keras_vae"
    )
    expected = (
        SUMMARY_FIELDS
        if HAS_TORCH
        else SUMMARY_FIELDS
        - {
            "speed_vs_reference",
            "neg_elbo_minus_reference",
        }
    )
    assert summary["summary"] and expected <= set(summary)
    flop = package["train_gflop_per_image"]
    assert flop == pytest.approx(TRAIN_GFLOP_PER_IMAGE[workload], rel=1e-6)
    assert summary["gflop_per_sec"] == pytest.approx(
        summary["images_per_sec"] * flop, abs=0.051
    )
    assert summary["share_of_matmul_peak"] == pytest.approx(
        summary["gflop_per_sec"] / peaks[backend]["float32_gflop_per_sec"], abs=5.1e-4
    )
    if HAS_TORCH:
        assert summary["speed_vs_reference"] == pytest.approx(
            package["images_per_sec"] / runs[0]["images_per_sec"], abs=5.1e-4
        )  # the summary rounds to 3 decimals
        reference = runs[0]
        assert len(reference["epoch_s"]) == 2
        assert summary["speed_vs_reference_best_epoch"] == pytest.approx(
            reference["epoch_s"][1] / package["epoch_s"][1], abs=5.1e-4
        )
        if len(references) == 2:
            assert summary["speed_vs_reference_channels_last"] == pytest.approx(
                package["images_per_sec"] / runs[1]["images_per_sec"], abs=5.1e-4
            )
        formats = [
            line["memory_format"]
            for line in lines
            if line.get("summary") and line["impl"] == "torch_reference"
        ]
        assert formats == layouts


def test_device_input_and_the_model_switches(idx_dir):
    """`--input=device` trains from `DeviceBatches`; `--sub_pixel=always`
    puts the strided decoder layers in sub-pixel form on any backend;
    `--batch_norm=keras` keeps TensorFlow's fused kernel out."""
    lines = bench(
        "--workload=dcgan",
        f"--backend={keras.backend.backend()}",
        "--input=device",
        "--sub_pixel=always",
        "--batch_norm=keras",
        "--noreference",
        "--nopeak",
        f"--data_dir={idx_dir}",
        "--epochs=2",
        "--batch_size=32",
        "--test_examples=64",
    )
    (run,) = [line for line in lines if not line.get("summary")]
    assert run["input"] == "device" and run["sub_pixel"] == "always"
    assert run["sub_pixel_layers"] == 1  # not the 1-filter logits layer
    assert run["batch_norm"] == "keras" and run["fused_batch_norm_layers"] == 0
    assert len(run["epoch_s"]) == 2 and run["images_per_sec"] > 0
    assert np.isfinite(run["test_neg_elbo"]) and 0 <= run["input_share_bound"]


def test_precisions_are_compared_with_float32(idx_dir):
    lines = bench(
        "--workload=mlp",
        f"--backend={keras.backend.backend()}",
        "--precision=float32,mixed_bfloat16",
        "--noreference",
        "--nopeak",
        "--nofixed_malloc",
        f"--data_dir={idx_dir}",
        "--epochs=2",
        "--steps=2",
        "--batch_size=32",
        "--test_examples=64",
    )
    bf16 = next(
        line
        for line in lines
        if line.get("summary") and line["precision"] == "mixed_bfloat16"
    )
    assert {"speed_vs_float32", "neg_elbo_minus_float32"} <= set(bf16)
    assert not any(line["impl"] == "torch_reference" for line in lines)
    inherited = {name: os.environ.get(name) for name in FIXED_MALLOC}
    runs = [line for line in lines if not line.get("summary")]
    assert runs and all(r["malloc_env"] == inherited for r in runs)


def test_rounds_run_successive_seeds_and_report_the_elbo_spread(idx_dir):
    lines = bench(
        "--workload=mlp",
        f"--backend={keras.backend.backend()}",
        "--noreference",
        "--nopeak",
        "--repeats=2",
        "--seed=5",
        f"--data_dir={idx_dir}",
        "--epochs=1",
        "--steps=2",
        "--batch_size=32",
        "--test_examples=64",
    )
    runs = [line for line in lines if not line.get("summary")]
    assert [(r["round"], r["seed"]) for r in runs] == [(0, 5), (1, 6)]
    elbos = sorted(r["test_neg_elbo"] for r in runs)
    assert elbos[0] != elbos[1]  # different seeds, different runs
    summary = next(line for line in lines if line.get("summary"))
    assert summary["test_neg_elbo_range"] == elbos


def test_odd_rounds_run_their_jobs_in_reverse_order(idx_dir):
    backend = keras.backend.backend()
    lines = bench(
        "--workload=mlp",
        f"--backend={backend}",
        "--precision=float32,mixed_bfloat16",
        "--reference" if HAS_TORCH else "--noreference",
        "--nopeak",
        "--repeats=2",
        f"--data_dir={idx_dir}",
        "--epochs=2",
        "--steps=2",
        "--batch_size=32",
        "--test_examples=32",
    )
    runs = [line for line in lines if not line.get("summary")]
    first = (["torch_reference/float32"] if HAS_TORCH else []) + [
        "keras_vae/float32",
        "keras_vae/mixed_bfloat16",
    ]
    order = [first, first[::-1]]
    assert [r["round"] for r in runs] == [i for i in range(2) for _ in first]
    assert [f"{r['impl']}/{r['precision']}" for r in runs] == sum(order, [])

    def run_of(impl, precision, round_index):
        (run,) = [
            r
            for r in runs
            if (r["impl"], r["precision"], r["round"]) == (impl, precision, round_index)
        ]
        return run

    def summary_of(precision):
        return next(
            line
            for line in lines
            if line.get("summary")
            and (line["impl"], line.get("precision")) == ("keras_vae", precision)
        )

    # Each bf16 run is paired with the float32 run of its own round (seed).
    f32 = [run_of("keras_vae", "float32", i) for i in (0, 1)]
    bf16 = [run_of("keras_vae", "mixed_bfloat16", i) for i in (0, 1)]
    summary = summary_of("mixed_bfloat16")
    assert summary["speed_vs_float32_by_round"] == pytest.approx(
        [
            b["images_per_sec"] / f["images_per_sec"]
            for b, f in zip(bf16, f32, strict=True)
        ],
        abs=5.1e-4,
    )
    assert summary["neg_elbo_minus_float32_by_seed"] == pytest.approx(
        [
            b["test_neg_elbo"] - f["test_neg_elbo"]
            for b, f in zip(bf16, f32, strict=True)
        ],
        abs=5.1e-4,
    )
    if HAS_TORCH:  # each package run is still paired with its own round
        ratios = [
            run_of("keras_vae", "float32", i)["images_per_sec"]
            / run_of("torch_reference", "float32", i)["images_per_sec"]
            for i in (0, 1)
        ]
        summary = summary_of("float32")
        expected = statistics.median(ratios)
        assert summary["speed_vs_reference"] == pytest.approx(expected, abs=5.1e-4)
        assert summary["speed_vs_reference_by_round"] == pytest.approx(
            ratios, abs=5.1e-4
        )


@TF_ONLY
def test_data_scaling_and_streaming_workloads(idx_dir):
    data = bench("--workload=data", f"--data_dir={idx_dir}", "--images=40")
    assert [d["source"] for d in data] == ["idx", "idx", "folder"]
    for line in data:
        assert len(line["images_per_sec_by_epoch"]) == 2 and line["images_per_sec"] > 0
        assert line["peak_rss_mb"] > 0
    assert data[1]["binarize"] == "dynamic" and data[2]["examples"] == 40

    scaling = bench(
        "--workload=scaling",
        "--scaling_backend=tensorflow",
        f"--data_dir={idx_dir}",
        "--scaling_counts=64,128",
        "--batch_size=32",
        "--test_examples=64",
    )
    summaries = [line for line in scaling if line.get("summary")]
    assert [s["train_examples"] for s in summaries] == [64, 128]
    assert all(s["epoch_s"] > 0 and "epoch_s_per_10k_images" in s for s in summaries)

    streaming = bench("--workload=streaming", "--images=40", "--epochs=1")
    assert [s["examples"] for s in streaming] == [10, 10, 20, 20, 40, 40]
    assert [s["cache_bytes"] for s in streaming[:2]] == [1 << 20, 2 * 1024**3]


@pytest.mark.skipif(not HAS_TORCH, reason="the reference needs PyTorch")
def test_reference_starts_from_kerass_initial_weights():
    # The reference trains the package's model, so its weights are drawn as
    # Keras draws them: Glorot-uniform, zero biases.
    import torch

    torch_reference = import_benchmark("torch_reference")
    torch.manual_seed(0)
    model = torch_reference.Conv(16)
    default_bias = model.enc[0].bias.detach().clone()
    torch_reference.keras_init(model)
    layers = [
        m
        for m in model.modules()
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d))
    ]
    assert len(layers) == 9  # 2 conv, 4 dense, 3 transposed conv
    assert bool(default_bias.abs().sum() > 0)  # PyTorch's default is not zero
    for layer in layers:
        assert not layer.bias.detach().any()
        w = layer.weight.detach()
        receptive = w[0, 0].numel()
        fan_sum = (w.shape[0] + w.shape[1]) * receptive
        limit = np.sqrt(6 / fan_sum)
        assert float(w.abs().max()) <= limit
        # Uniform(-limit, limit) has standard deviation limit / sqrt(3).
        assert float(w.std()) == pytest.approx(limit / np.sqrt(3), rel=0.1)


@pytest.mark.skipif(not HAS_TORCH, reason="the reference needs PyTorch")
def test_reference_lays_out_its_weights_as_asked():
    import torch

    torch_reference = import_benchmark("torch_reference")
    model = torch_reference.Conv(16)
    kernels = [p for p in model.parameters() if p.dim() == 4]
    assert len(kernels) == 5 and all(k.is_contiguous() for k in kernels)
    layout = torch_reference.to_memory_format(model, "channels_last")
    assert layout is torch.channels_last
    kernels = [p for p in model.parameters() if p.dim() == 4]
    assert all(k.is_contiguous(memory_format=torch.channels_last) for k in kernels)
    assert not model.enc[2].weight.is_contiguous()  # 32 -> 64: NHWC now
    assert torch_reference.to_memory_format(model, "channels_first") is (
        torch.contiguous_format
    )
    assert model.enc[2].weight.is_contiguous()
    with pytest.raises(ValueError, match="Received: 'nhwc'"):
        torch_reference.to_memory_format(model, "nhwc")


def test_run_refuses_an_unknown_reference_layout(idx_dir):
    done, _ = probe(
        "run.py",
        "--workload=conv",
        "--reference_memory_format=channels_last,nhwc",
        f"--data_dir={idx_dir}",
    )
    assert done.returncode != 0 and not done.stdout
    assert "--reference_memory_format must be of" in done.stderr
    assert "Received: ['channels_last', 'nhwc']" in done.stderr


def probe(script, *args):
    done = subprocess.run(
        [sys.executable, os.path.join(REPO, "benchmarks", script), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    return done, [json.loads(ln[len("RESULT ") :]) for ln in lines]


def test_policy_probe_reports_loss_scale_and_a_float32_copy(idx_dir):
    done, results = probe(
        "policy_probe.py",
        "--precision=mixed_float16",
        "--epochs=1",
        f"--data_dir={idx_dir}",
    )
    assert done.returncode == 0 and results, done.stderr[-3000:]
    (result,) = results
    assert result["backend"] == keras.backend.backend()
    assert result["steps"] == 2  # 256 images, batch 128
    (epoch,) = result["epochs_log"]
    assert epoch["scale"] > 0  # mixed_float16 scales the loss
    assert 0 <= epoch["applied"] <= 2  # overflowed steps are skipped
    # The same weights evaluated in float16 and in float32 agree closely.
    assert np.isfinite(result["test_neg_elbo"])
    assert result["test_neg_elbo_weights_in_float32"] == pytest.approx(
        result["test_neg_elbo"], abs=2.0
    )
    peaks = result["layer_peaks"]
    assert peaks["encoder/0/encoder_conv_0"][0] == "float16"
    assert peaks["decoder/4/logits"][0] == "float32"  # logits stay float32
    assert all(count == 0 for _, _, count in peaks.values())


def test_policy_probe_starts_from_saved_initial_weights(idx_dir, tmp_path):
    """--save_init writes the draw; --init_from starts another seed from it
    (on any backend: the file is a backend-neutral .weights.h5)."""
    first, second = tmp_path / "seed0.weights.h5", tmp_path / "again.weights.h5"
    runs = []
    for args in (
        ["--seed=0", f"--save_init={first}"],
        ["--seed=1", f"--init_from={first}", f"--save_init={second}"],
    ):
        done, results = probe(
            "policy_probe.py", "--epochs=1", f"--data_dir={idx_dir}", *args
        )
        assert done.returncode == 0 and results, done.stderr[-3000:]
        runs.append(results[0])
    assert runs[0]["init_from"] is None and "init_from" not in runs[0]["switches"]
    assert runs[1]["init_from"] == str(first) and "init_from" in runs[1]["switches"]
    weights = []
    for path in (first, second):
        vae = keras_vae.build_vae("conv", (28, 28, 1), 16, seed=5)
        vae.load_weights(str(path))
        weights.append(vae.get_weights())
    for a, b in zip(*weights, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(keras.backend.backend() == "torch", reason="torch accepts it")
def test_policy_probe_refuses_torch_switches_on_other_backends(idx_dir):
    done, results = probe("policy_probe.py", "--cpu_eps", f"--data_dir={idx_dir}")
    assert done.returncode != 0 and not results
    assert "--cpu_eps applies to the torch backend only" in done.stderr


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="torch backend only")
def test_torch_devices_compares_identical_runs_without_a_gpu(idx_dir):
    done, results = probe(
        "torch_devices.py", "--steps=1", "--held_out=64", f"--data_dir={idx_dir}"
    )
    assert done.returncode == 0 and results, done.stderr[-3000:]
    (result,) = results
    assert result["devices"] == ["cpu", "cpu"]
    assert result["loss"][0] == result["loss"][1]
    assert len(result["grad_relative_diff"]) == 18  # 9 kernels, 9 biases
    assert set(result["grad_relative_diff"].values()) == {0.0}
    assert all(diff == 0.0 for diff, _ in result["layer_max_diff"].values())
    cpu, other = result["fit"]
    assert cpu.pop("device") == other.pop("device") == "cpu"
    assert cpu == other


def test_sub_pixel_layers_times_both_formulations():
    done, results = probe(
        "sub_pixel_layers.py",
        "--batch_size=2",
        "--rounds=1",
        "--calls=1",
        "--cases=8:8:3:2:4,4:1:3:1:4",
    )
    assert done.returncode == 0 and len(results) == 2, done.stderr[-3000:]
    strided, logits = results
    for result in results:
        assert result["backend"] == keras.backend.backend()
        assert result["transposed_ms"] > 0 and result["sub_pixel_ms"] > 0
        assert result["speedup"] > 0
    assert strided["case"]["filters"] == 8
    assert strided["auto_uses_sub_pixel"] == (keras.backend.backend() == "jax")
    assert not logits["auto_uses_sub_pixel"]  # stride 1


def test_sub_pixel_layers_rejects_a_malformed_case():
    done, results = probe("sub_pixel_layers.py", "--cases=8:8:3")
    assert done.returncode != 0 and not results
    assert "in_channels:filters:kernel:stride:side. Received: '8:8:3'" in done.stderr
