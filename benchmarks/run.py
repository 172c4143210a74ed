"""The benchmark suite: `python benchmarks/run.py --workload=NAME`.

Prints one JSON line per measurement (each run in its own process), then the
`"summary"` lines (`summaries.py`): one per workload, backend and precision,
and one per reference layout. Package runs and the
plain-PyTorch reference (`torch_reference.py`) alternate, round by round, so
that machine drift cancels out of the package/reference ratio. Model
workloads first measure each backend's matrix-product speed (`peak_job.py`)
and report each summary's GFLOP/s (`flops.py`) as a share of it.

Workloads (Fashion-MNIST, 60,000 train / 10,000 test):
  mlp    784-400-20, Bernoulli + KL, Adam 1e-3, batch 128
  conv   the keras.io conv VAE, latent 16, batch 128, Adam 1e-3
  dcgan  the DCGAN-style VAE, z 32, batch 1024, Adam 2e-3
  data   keras_vae.data.load alone: the IDX files, and 10,000 generated
         JPEGs resized to 64x64 RGB
  scaling    epoch time of `--scaling_backend` mlp at 10k/30k/60k images
  streaming  peak memory streaming 2.5k/5k/10k JPEGs through a cache
             smaller than the folder, against caching them
"""

import json
import os
import statistics
import subprocess
import sys

import common
import summaries
from absl import app
from absl import flags

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = common.MODELS
WORKLOADS = (*MODELS, "data", "scaling", "streaming")
BACKENDS = ("tensorflow", "jax", "torch")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
MEMORY_FORMATS = ("channels_first", "channels_last")

FLAGS = flags.FLAGS
flags.DEFINE_enum("workload", None, WORKLOADS, "What to measure.")
flags.DEFINE_list("backend", list(BACKENDS), "Keras backends to run the package on.")
flags.DEFINE_list("precision", ["float32"], f"Dtype policies, of {PRECISIONS}.")
flags.DEFINE_integer("epochs", None, "Epochs per run (default: per workload).")
flags.DEFINE_integer("repeats", 1, "Rounds of alternated package/reference runs.")
flags.DEFINE_bool("reference", True, "Run the plain-PyTorch reference too.")
flags.DEFINE_enum(
    "reference_init",
    "keras",
    ["keras", "torch"],
    "Reference's initial weights: as Keras draws them (the same model as the "
    "package's), or PyTorch's defaults.",
)
flags.DEFINE_list(
    "reference_memory_format",
    ["channels_first"],
    f"Reference's tensor layouts, of {MEMORY_FORMATS}; one reference run a "
    "round for each: PyTorch's default NCHW, the plain loop (the summaries' "
    "`speed_vs_reference`), or the opt-in NHWC of PyTorch's performance guide "
    "(`speed_vs_reference_channels_last`).",
)
flags.DEFINE_enum(
    "input",
    "tfdata",
    ["tfdata", "arrays", "device"],
    "Package input: keras_vae.data.load; NumPy arrays (machines without TF); or "
    "the arrays held and batched on the accelerator (keras_vae.data."
    "DeviceBatches), as the reference holds its data.",
)
flags.DEFINE_enum(
    "sub_pixel",
    "auto",
    ["auto", "always"],
    "Decoders' transposed convolutions: as 'auto' picks (sub-pixel form on "
    "JAX's CPU and GPU backends), or in sub-pixel form on any device.",
)
flags.DEFINE_enum(
    "batch_norm",
    "auto",
    ["auto", "keras"],
    "The dcgan model's BatchNormalization: as keras_vae's layer picks "
    "(TensorFlow's and PyTorch's fused kernels), or Keras's own computation "
    "(fused=False), to measure what the kernel gains.",
)
flags.DEFINE_integer(
    "steps_per_execution",
    50,
    "Package steps per compiled call (the PyTorch backend always runs 1).",
)
flags.DEFINE_enum("jit_compile", "auto", ["auto", "true", "false"], "Package XLA.")
flags.DEFINE_bool(
    "fixed_malloc",
    True,
    "Run the model workloads' jobs (package and reference alike) with glibc's "
    "mmap and trim thresholds fixed (common.FIXED_MALLOC), so that the "
    "reference's speed does not flip with its allocation history.",
)
flags.DEFINE_string(
    "data_dir",
    None,
    "Folder of Fashion-MNIST IDX files "
    "(default: $KERAS_VAE_DATA_DIR/fashion_mnist, then Debian's).",
)
flags.DEFINE_integer("train_examples", None, "Use only the first N training images.")
flags.DEFINE_integer("test_examples", None, "Use only the first N test images.")
flags.DEFINE_integer("steps", None, "Stop each epoch after N steps (smoke runs).")
flags.DEFINE_integer("batch_size", None, "Batch size (default: per workload).")
flags.DEFINE_list("scaling_counts", ["10000", "30000", "60000"], "Scaling: sizes.")
flags.DEFINE_integer("images", 10_000, "JPEGs in the data workload's folder.")
flags.DEFINE_string("scaling_backend", "jax", "Backend of the scaling workload.")
flags.DEFINE_bool(
    "peak",
    True,
    "Measure each backend's matrix-product GFLOP/s first (peak_job.py), and "
    "report the model runs' GFLOP/s as a share of it.",
)
flags.DEFINE_integer("peak_rows", 8192, "Rows of the peak job's matrix product.")
flags.DEFINE_integer(
    "seed",
    0,
    "Seed of round 0; round i uses seed + i (package and reference alike), so "
    "the rounds also show the ELBO's spread from seed to seed.",
)


def run_job(script, spec, backend=None, env=None):
    """Runs one job in a fresh process; returns its parsed RESULT line."""
    env = {**os.environ, **(env or {}), "TF_CPP_MIN_LOG_LEVEL": "3"}
    if backend:
        env["KERAS_BACKEND"] = backend
    command = [sys.executable, os.path.join(HERE, script), json.dumps(spec)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(
            f"{script} failed (exit {done.returncode}) on {spec}:\n"
            + done.stderr[-3000:]
        )
    result = json.loads(lines[-1][len("RESULT ") :])
    result.update({k: v for k, v in spec.items() if k not in result})
    return result


def report(result):
    print(json.dumps(result, sort_keys=True), flush=True)
    return result


def model_spec(workload, precision, round_index):
    spec = dict(MODELS[workload], workload=workload, seed=FLAGS.seed + round_index)
    spec.update(precision=precision, round=round_index, input=FLAGS.input)
    if FLAGS.epochs:
        spec["epochs"] = FLAGS.epochs
    if FLAGS.batch_size:
        spec["batch_size"] = FLAGS.batch_size
    for name in ("data_dir", "train_examples", "test_examples", "steps"):
        if getattr(FLAGS, name) is not None:
            spec[name] = getattr(FLAGS, name)
    jit = {"auto": "auto", "true": True, "false": False}[FLAGS.jit_compile]
    spec.update(jit_compile=jit, steps_per_execution=FLAGS.steps_per_execution)
    spec["reference_init"] = FLAGS.reference_init
    spec["sub_pixel"] = FLAGS.sub_pixel
    spec["batch_norm"] = FLAGS.batch_norm
    return spec


def model_env():
    return dict(common.FIXED_MALLOC) if FLAGS.fixed_malloc else {}


def package_run(spec, backend):
    spec = dict(spec)
    if backend == "torch":
        spec["steps_per_execution"] = 1  # Keras allows nothing else on torch.
    return report(run_job("package_job.py", spec, backend, model_env()))


def measure_peaks():
    """{backend: peak_job result} for the package's backends, and torch's
    for the reference."""
    backends = [*FLAGS.backend, *(["torch"] if FLAGS.reference else [])]
    return {
        backend: report(run_job("peak_job.py", {"rows": FLAGS.peak_rows}, backend))
        for backend in dict.fromkeys(backends)
    }


def reference_run(spec):
    return report(run_job("torch_reference.py", spec, env=model_env()))


def round_jobs(workload, round_index):
    """The runs of one round, as `(function, spec, *args)`: the reference,
    then each precision's package runs; odd rounds run them in reverse, so
    that no side always takes a round's first or last slot. (In one probe
    the first process of a round ran a few percent slower; in session 18's
    `conv` run the order made no difference. Counterbalancing removes the
    question either way.)"""
    jobs = []
    for precision in FLAGS.precision:
        spec = model_spec(workload, precision, round_index)
        if FLAGS.reference and precision == "float32":
            for fmt in dict.fromkeys(FLAGS.reference_memory_format):
                jobs.append((reference_run, {**spec, "memory_format": fmt}))
        jobs.extend((package_run, spec, backend) for backend in FLAGS.backend)
    return jobs[::-1] if round_index % 2 else jobs


def run_models(workload):
    peaks = measure_peaks() if FLAGS.peak else {}
    results = []
    for round_index in range(FLAGS.repeats):
        for function, *args in round_jobs(workload, round_index):
            results.append(function(*args))
    for summary in summaries.summarize(workload, results, peaks):
        report(summary)


def data_spec(**spec):
    spec.setdefault("batch_size", 128)
    if FLAGS.data_dir:
        spec["data_dir"] = FLAGS.data_dir
    return spec


def run_data():
    epochs = FLAGS.epochs or 2
    for binarize in (None, "dynamic"):
        spec = data_spec(source="idx", epochs=epochs, binarize=binarize)
        if FLAGS.train_examples:
            spec["examples"] = FLAGS.train_examples
        report(run_job("data_job.py", spec, "tensorflow"))
    report(
        run_job(
            "data_job.py",
            data_spec(source="folder", epochs=epochs, examples=FLAGS.images),
            "tensorflow",
        )
    )


def run_scaling():
    for count in (int(c) for c in FLAGS.scaling_counts):
        spec = model_spec("mlp", "float32", 0)
        spec.update(train_examples=count, epochs=FLAGS.epochs or 3)
        result = package_run(spec, FLAGS.scaling_backend)
        steady = result["epoch_s"][1:] or result["epoch_s"]
        report(
            {
                "summary": True,
                "workload": "scaling",
                "train_examples": count,
                "backend": FLAGS.scaling_backend,
                "epoch_s": round(statistics.median(steady), 3),
                "epoch_s_per_10k_images": round(
                    statistics.median(steady) * 10_000 / count, 3
                ),
            }
        )


def run_streaming():
    total = FLAGS.images
    for count in (total // 4, total // 2, total):
        for cache_bytes in (1 << 20, None):  # 1 MiB forces streaming.
            spec = data_spec(
                source="folder",
                epochs=FLAGS.epochs or 2,
                examples=count,
                cache_bytes=cache_bytes,
            )
            report(run_job("data_job.py", spec, "tensorflow"))


def main(argv):
    del argv
    bad = [p for p in FLAGS.precision if p not in PRECISIONS]
    if bad:
        raise app.UsageError(f"--precision must be of {PRECISIONS}. Received: {bad}")
    bad = [f for f in FLAGS.reference_memory_format if f not in MEMORY_FORMATS]
    if bad or not FLAGS.reference_memory_format:
        raise app.UsageError(
            f"--reference_memory_format must be of {MEMORY_FORMATS}. "
            f"Received: {FLAGS.reference_memory_format}"
        )
    if FLAGS.workload in MODELS:
        run_models(FLAGS.workload)
    else:
        {"data": run_data, "scaling": run_scaling, "streaming": run_streaming}[
            FLAGS.workload
        ]()


if __name__ == "__main__":
    flags.mark_flag_as_required("workload")
    app.run(main)
