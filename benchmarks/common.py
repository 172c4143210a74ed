"""What every benchmark job shares: the data on disk, timing, memory, output.

Jobs run one per process (a backend is chosen per process, and peak memory
is a process's own), print exactly one JSON line starting with `RESULT ` and
are started by `run.py`, which alternates them so that drift cancels out.
"""

import gzip
import json
import os
import resource
import sys
import time

import numpy as np

# The model workloads' settings (run.py's defaults; epochs per run).
MODELS = {
    "mlp": {"latent_dim": 20, "batch_size": 128, "learning_rate": 1e-3, "epochs": 10},
    "conv": {"latent_dim": 16, "batch_size": 128, "learning_rate": 1e-3, "epochs": 3},
    "dcgan": {"latent_dim": 32, "batch_size": 1024, "learning_rate": 2e-3, "epochs": 2},
}
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
FILES = {"train": "train-images-idx3-ubyte", "test": "t10k-images-idx3-ubyte"}
RESULT_PREFIX = "RESULT "
# glibc serves an allocation above its mmap threshold with fresh pages and
# unmaps them on free. The threshold moves with the process's allocation
# history, so from run to run a PyTorch step's large buffers either stay in
# the heap or are faulted in afresh (6 million page faults in 235 `conv`
# steps) and the reference runs 1.8x slower (HISTORY.md, `conv`, session 16). Model
# runs fix both thresholds at 1 GiB (`run.py --fixed_malloc`).
FIXED_MALLOC = {
    "MALLOC_MMAP_THRESHOLD_": str(2**30),
    "MALLOC_TRIM_THRESHOLD_": str(2**30),
}


def data_dir(given=None):
    """The folder of Fashion-MNIST IDX files: `given`, else
    `$KERAS_VAE_DATA_DIR/fashion_mnist`, else Debian's."""
    if given:
        return given
    env = os.environ.get("KERAS_VAE_DATA_DIR")
    if env and os.path.isdir(os.path.join(env, "fashion_mnist")):
        return os.path.join(env, "fashion_mnist")
    return DEBIAN_DIR


def read_images(folder, split, limit=None):
    """uint8 array [n, 28, 28] read plainly from an IDX file (.gz or not)."""
    path = os.path.join(folder, FILES[split])
    opener = open
    if not os.path.exists(path):
        path, opener = path + ".gz", gzip.open
    with opener(path, "rb") as f:
        raw = f.read()
    count, rows, cols = (int.from_bytes(raw[i : i + 4], "big") for i in (4, 8, 12))
    images = np.frombuffer(raw, np.uint8, count * rows * cols, 16)
    images = images.reshape(count, rows, cols)
    return images[:limit] if limit else images


def read_unit_images(folder, split, limit=None):
    """float32 array [n, 28, 28, 1] in [0, 1]: `read_images` scaled by 1/255,
    with a channel axis, as the package's models take them."""
    return (read_images(folder, split, limit).astype(np.float32) / 255)[..., None]


def peak_rss_mb():
    """This process's peak resident memory in MiB (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StepClock:
    """Wall-clock times of finished steps and epochs.

    `images_per_sec` is the steady state: from the end of the first epoch to
    the end of the last when there are two or more (compilation, including
    the recompilation for an epoch's last partial batch, stays out), else
    from the first finished step to the last."""

    def __init__(self):
        self.start = time.perf_counter()
        self.marks = []  # (time, images finished so far)
        self.epoch_marks = []

    def mark(self, images_done):
        self.marks.append((time.perf_counter(), images_done))

    def epoch_end(self, images_done):
        self.epoch_marks.append((time.perf_counter(), images_done))

    @property
    def first_step_s(self):
        return self.marks[0][0] - self.start if self.marks else None

    @property
    def images_per_sec(self):
        marks = self.epoch_marks if len(self.epoch_marks) >= 2 else self.marks
        if len(marks) < 2:
            return None
        (t0, n0), (t1, n1) = marks[0], marks[-1]
        return (n1 - n0) / (t1 - t0)


def device_name():
    """The accelerator the job's framework computes on, or "cpu"."""
    if "jax" in sys.modules and os.environ.get("KERAS_BACKEND") == "jax":
        import jax

        device = jax.devices()[0]
        return "cpu" if device.platform == "cpu" else device.device_kind
    if "torch" in sys.modules:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name()
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return gpus[0].name if gpus else "cpu"
    return "cpu"


def gpu_float32_math():
    """How float32 products and convolutions may run on a GPU: JAX's default
    matmul precision (None lets XLA use reduced-precision tensor-core passes:
    on an H100 its float32 product ran at 34 TFLOP/s, and at 19 with
    "highest"), and whether PyTorch allows TF32 in matrix products and in
    cuDNN. A float32 baseline on tensor cores bounds what mixed precision can
    gain against it (benchmarks/RESULTS.md, GPU)."""
    if "jax" in sys.modules and os.environ.get("KERAS_BACKEND") == "jax":
        import jax

        return {"jax_default_matmul_precision": jax.config.jax_default_matmul_precision}
    if "tensorflow" in sys.modules and os.environ.get("KERAS_BACKEND") == "tensorflow":
        import tensorflow as tf

        tf32 = tf.config.experimental.tensor_float_32_execution_enabled()
        return {"tf_tensor_float_32": tf32}
    import torch

    return {
        "torch_matmul_tf32": torch.backends.cuda.matmul.allow_tf32,
        "torch_cudnn_tf32": torch.backends.cudnn.allow_tf32,
    }


def draw_sampling_noise_with(draw, device):
    """Makes `keras.random.normal` (the package's sampling noise; `sampling.py`
    looks it up per call) return `draw(shape)`, a float32 torch tensor, moved
    to `device`: a noise stream that does not depend on the device's own
    generator. For the torch backend's probes only."""
    import keras

    def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        return draw(tuple(int(s) for s in shape)).to(device) * stddev + mean

    keras.random.normal = normal


def emit(result):
    result["device"] = device_name()
    if result["device"] != "cpu":
        result["gpu_float32_math"] = gpu_float32_math()
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    result["malloc_env"] = {k: os.environ.get(k) for k in FIXED_MALLOC}
    print(RESULT_PREFIX + json.dumps(result, sort_keys=True), flush=True)


def job_spec():
    """The job's settings, passed by `run.py` as one JSON argument."""
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: {sys.argv[0]} '<json job spec>'")
    return json.loads(sys.argv[1])
