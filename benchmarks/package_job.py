"""One training run of a workload with keras_vae, on the backend that
`KERAS_BACKEND` names: `build_vae`, `compile`, `fit`, then the test ELBO.

Input is the package's own pipeline (`keras_vae.data.load`, tf.data); with
`"input": "arrays"` NumPy arrays given to `fit` (for machines without
TensorFlow, such as the GPU machine); with `"input": "device"` the arrays held
on the accelerator and batched there (`keras_vae.data.DeviceBatches`), as the
PyTorch reference holds its data. `"sub_pixel": "always"` makes the decoders'
"auto" transposed convolutions take the sub-pixel form on any device (by
default only JAX's CPU and GPU backends do); `"batch_norm": "keras"` gives the
dcgan model Keras's own batch normalization instead of the backend's fused
kernel (`keras_vae.architectures.batch_norm`).
"""

import functools
import time

STARTED = time.perf_counter()

import common  # noqa: E402
import flops  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_vae  # noqa: E402
from keras_vae.architectures import batch_norm  # noqa: E402
from keras_vae.architectures import dcgan  # noqa: E402
from keras_vae.architectures import sub_pixel  # noqa: E402

IMPORT_S = time.perf_counter() - STARTED


class Clock(keras.callbacks.Callback):
    """Marks every compiled call's end and every epoch's end.

    Not `async_safe`, like Keras's progress bar: Keras turns the logs into
    floats on the main thread after every compiled call, which waits for the
    call (JAX dispatches ahead), as a default `fit(verbose=1)` and
    `scripts/train.py` do. `fit(verbose=0)` with no per-batch callback
    would go on making the next call's input meanwhile instead; on this
    2-core CPU that overlap was 0-8% slower for JAX `mlp`, not faster
    (benchmarks/HISTORY.md, "Session 4: what changed").
    """

    def __init__(self, clock, batch_size, epoch_images):
        super().__init__()
        self.epoch_images = epoch_images
        self.epochs_done = 0
        self.clock = clock
        self.batch_size = batch_size
        self.epoch_s = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_s.append(round(time.perf_counter() - self.epoch_start, 3))
        self.epochs_done += 1
        self.clock.epoch_end(self.epochs_done * self.epoch_images)

    def on_train_batch_end(self, batch, logs=None):
        # Keras calls this once per `steps_per_execution` steps, with `batch`
        # the index of the call's last step in its epoch. Reading a log value
        # waits for the call (Keras's own conversion of the logs does too,
        # but the clock should not depend on it).
        float(logs["loss"])
        done = min((batch + 1) * self.batch_size, self.epoch_images)
        self.clock.mark(self.epochs_done * self.epoch_images + done)


def _arrays(spec, split, limit):
    folder = common.data_dir(spec.get("data_dir"))
    return common.read_unit_images(folder, split, limit)


def _datasets(spec):
    feed = spec.get("input", "tfdata")
    if feed in ("arrays", "device"):
        train = _arrays(spec, "train", spec.get("train_examples"))
        test = _arrays(spec, "test", spec.get("test_examples"))
        if feed == "device":
            train = keras_vae.data.DeviceBatches(
                train, spec["batch_size"], seed=spec["seed"]
            )
        return train, test
    source = "fashion_mnist"
    if spec.get("data_dir"):
        source = "idx:" + spec["data_dir"]
    common_args = {"batch_size": spec["batch_size"], "seed": spec["seed"]}
    train = keras_vae.data.load(
        source, "train", max_examples=spec.get("train_examples"), **common_args
    )
    test = keras_vae.data.load(
        source, "test", max_examples=spec.get("test_examples"), **common_args
    )
    return train, test


def input_seconds(train, batch_size, seed):
    """Seconds to produce one epoch of device batches from the same source
    with no training: shuffle and slice for arrays, iterate for tf.data, then
    `convert_to_tensor` (the host-to-device copy on a GPU); for
    `DeviceBatches`, its shuffle and split on the device."""
    start = time.perf_counter()
    if isinstance(train, keras_vae.data.DeviceBatches):
        train.on_epoch_begin()
        batches = (train[i][0] for i in range(len(train)))
    elif isinstance(train, np.ndarray):
        order = np.random.default_rng(seed).permutation(len(train))
        batches = (
            train[np.sort(order[i : i + batch_size])]
            for i in range(0, len(train), batch_size)
        )
    else:
        batches = (b.numpy() for b in train)
    last = None
    for batch in batches:
        last = keras.ops.convert_to_tensor(batch)
    keras.ops.convert_to_numpy(keras.ops.sum(last))  # waits for the copies
    return time.perf_counter() - start


def main():
    spec = common.job_spec()
    keras.utils.set_random_seed(spec["seed"])
    precision = spec.get("precision", "float32")
    keras.config.set_dtype_policy(precision)
    train, test = _datasets(spec)

    if spec.get("sub_pixel", "auto") == "always":
        sub_pixel._sub_pixel_by_default = lambda: True
    if spec.get("batch_norm", "auto") == "keras":
        dcgan.BatchNormalization = functools.partial(
            batch_norm.BatchNormalization, fused=False
        )
    clock = common.StepClock()
    options = {"hidden_units": (400,)} if spec["workload"] == "mlp" else {}
    vae = keras_vae.build_vae(
        spec["workload"], (28, 28, 1), spec["latent_dim"], seed=spec["seed"], **options
    )
    spe = spec.get("steps_per_execution", 1)
    vae.compile(
        optimizer=keras.optimizers.Adam(spec["learning_rate"]),
        jit_compile=spec.get("jit_compile", "auto"),
        steps_per_execution=spe,
    )
    fit_args = {"epochs": spec["epochs"], "verbose": 0}
    if spec.get("steps"):
        fit_args["steps_per_epoch"] = spec["steps"]
    if isinstance(train, np.ndarray):
        fit_args.update(batch_size=spec["batch_size"], shuffle=True)
    if isinstance(train, keras_vae.data.DeviceBatches):
        fit_args["shuffle"] = False  # it shuffles itself
    if spec.get("steps"):
        epoch_images = spec["steps"] * spec["batch_size"]
    elif isinstance(train, np.ndarray):
        epoch_images = len(train)
    elif isinstance(train, keras_vae.data.DeviceBatches):
        epoch_images = train.count
    else:
        folder = common.data_dir(spec.get("data_dir"))
        epoch_images = len(
            common.read_images(folder, "train", spec.get("train_examples"))
        )
    timer = Clock(clock, spec["batch_size"], epoch_images)
    flop_per_image = flops.train_flop_per_image(vae)
    vae.fit(train, callbacks=[timer], **fit_args)
    train_s = time.perf_counter() - clock.start

    epoch_input_s = input_seconds(train, spec["batch_size"], spec["seed"])
    eval_args = {"batch_size": 500} if isinstance(test, np.ndarray) else {}
    logs = vae.evaluate(test, verbose=0, return_dict=True, **eval_args)
    common.emit(
        {
            "impl": "keras_vae",
            "precision": precision,
            "backend": keras.backend.backend(),
            "keras_version": keras.__version__,
            "jit_compile": vae.jit_compile,
            "steps_per_execution": spe,
            "input": spec.get("input", "tfdata"),
            "sub_pixel_layers": sum(
                getattr(layer, "uses_sub_pixel", False) for layer in vae.decoder.layers
            ),
            "fused_batch_norm_layers": sum(
                getattr(layer, "may_fuse", False)
                for model in (vae.encoder, vae.decoder)
                for layer in model.layers
            ),
            "import_s": round(IMPORT_S, 3),
            "first_step_s": round(clock.first_step_s, 3),
            "images_per_sec": round(clock.images_per_sec or 0, 1),
            # run.py's summaries turn this and images/s into GFLOP/s.
            "train_gflop_per_image": round(flop_per_image / 1e9, 9),
            "train_s": round(train_s, 2),
            "epoch_s": timer.epoch_s,
            # The share of a steady epoch that producing its input takes when
            # nothing overlaps it: an upper bound on the time spent waiting.
            "input_share_bound": round(epoch_input_s / timer.epoch_s[-1], 3),
            "test_neg_elbo": round(logs["reconstruction"] + logs["kl"], 3),
            "test_reconstruction": round(logs["reconstruction"], 3),
            "test_kl": round(logs["kl"], 3),
        }
    )


if __name__ == "__main__":
    main()
