"""`run(config)`: one training run, leaving everything in its workdir."""

import csv
import dataclasses
import io
import json
import os
import shutil
import time

import keras
import numpy as np

from keras_vae import data
from keras_vae import priors
from keras_vae.architectures import build_vae
from keras_vae.callbacks import KLWarmup
from keras_vae.training import atomic
from keras_vae.training.distribution import distribution_scope
from keras_vae.training.distribution import replicas
from keras_vae.training.distribution import worker_role
from keras_vae.training.image_grids import ImageGrids
from keras_vae.training.nan_guard import TerminateOnNaN
from keras_vae.training.progress import ProgbarLogger
from keras_vae.training.steps import steps_finished


def _prepare_workdir(config, log=print):
    workdir = os.path.abspath(config.workdir)
    try:
        os.makedirs(workdir, exist_ok=True)
        probe = os.path.join(workdir, ".write_test")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as error:
        raise ValueError(
            f"--workdir {workdir} is not a writable directory: {error}"
        ) from error
    config.check_compatible(os.path.join(workdir, "config.json"))
    for path in atomic.remove_stale_temporaries(workdir):
        log(f"Removed {path}, left by a write that was killed.")
    return workdir


def _load_data(config, start=0):
    common = {
        "batch_size": config.batch_size,
        "image_size": config.image_size,
        "binarize": None if config.binarize == "none" else config.binarize,
        "seed": config.seed,
        "validation_fraction": config.validation_fraction,
        "max_examples": config.max_examples,
    }
    if config.data_on_device:
        train = _device_batches(config, common, start)
    else:
        train = data.load(config.dataset, config.split, **common)
    validation = None
    if config.validation_fraction:
        validation = data.load(config.dataset, "validation", **common)
    try:
        test = data.load(config.dataset, "test", **common)
    except data.DataError:  # e.g. an image folder: one split only
        test = None
    return train, validation, test


def _device_batches(config, common, start):
    """The training split read once, in order, into a `DeviceBatches`: the
    same images as `data.load` gives (static and threshold binarization
    included); dynamic binarization is drawn on the device each epoch, and
    epoch `start` comes first (a resumed run)."""
    dynamic = config.binarize == "dynamic"
    unbatched = dict(common, batch_size=1024, shuffle=False)
    if dynamic:
        unbatched["binarize"] = None
    split = data.load(config.dataset, config.split, **unbatched)
    images = np.concatenate([np.asarray(batch) for batch in split])
    return data.DeviceBatches(
        images,
        config.batch_size,
        seed=config.seed,
        binarize="dynamic" if dynamic else None,
        initial_epoch=start,
    )


def _image_shape(train):
    if isinstance(train, data.DeviceBatches):
        return train.image_shape
    return tuple(train.element_spec.shape[1:])


def _first_images(ds, count):
    if isinstance(ds, data.DeviceBatches):
        return keras.ops.convert_to_numpy(ds[0][0])[:count]
    return np.asarray(next(iter(ds.take(1))))[:count]


def _check_free_space(workdir, vae):
    """Refuses to start a run whose files cannot fit: the backup (weights and
    optimizer, twice), `vae.keras` and its temporary copy, plus a margin."""
    needed = 10 * 4 * vae.count_params() + 64 * 1024**2
    free = shutil.disk_usage(workdir).free
    if free < needed:
        raise ValueError(
            f"--workdir {workdir} has {free / 1024**2:.0f} MB free; this run "
            f"writes about {needed / 1024**2:.0f} MB (checkpoints, vae.keras). "
            "Free some space or choose another --workdir."
        )


def _trim_history(path, start):
    """Drops the rows of epochs from `start` on: a run killed after logging
    an epoch but before backing it up redoes that epoch."""
    if not os.path.exists(path):
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    kept = rows[:1] + [row for row in rows[1:] if row and int(row[0]) < start]
    if len(kept) < len(rows):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(kept)
        atomic.write_text(path, buffer.getvalue())


def _backup_epoch(backup_dir):
    path = os.path.join(backup_dir, "training_metadata.json")
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return int(json.load(f)["epoch"])


def _neg_elbo(logs, prefix=""):
    if not logs or f"{prefix}reconstruction" not in logs:
        return None
    reconstruction = float(logs[f"{prefix}reconstruction"])
    kl = float(logs[f"{prefix}kl"])
    return {"neg_elbo": reconstruction + kl, "reconstruction": reconstruction, "kl": kl}


def _steps_per_epoch(train):
    if isinstance(train, data.DeviceBatches):
        return len(train)
    steps = int(train.cardinality())
    if steps < 1:  # Unknown (-2): count once. (Training data is finite.)
        steps = sum(1 for _ in train)
    return steps


def _optimizer(config, train):
    rate = config.learning_rate
    if config.lr_schedule == "cosine":
        steps_per_epoch = _steps_per_epoch(train)
        # The step count lives in the optimizer, which the backup restores,
        # so a resumed run continues the same curve.
        rate = keras.optimizers.schedules.CosineDecay(
            rate,
            decay_steps=max(1, config.epochs * steps_per_epoch),
            alpha=config.min_lr_fraction,
        )
    if config.ema_momentum:
        return keras.optimizers.Adam(
            rate, use_ema=True, ema_momentum=config.ema_momentum
        )
    return keras.optimizers.Adam(rate)


def _prior(config):
    if config.prior == "vamp":
        return priors.VampPrior(config.prior_components)
    return config.prior


def _build(config, image_shape, scope, train):
    options = {}
    if config.arch == "mlp":
        options["hidden_units"] = tuple(config.hidden_units)
        if config.encoder_units is not None:
            options["encoder_units"] = tuple(config.encoder_units)
    with scope:
        vae = build_vae(
            config.arch,
            image_shape,
            config.latent_dim,
            config.likelihood,
            beta=config.beta,
            free_bits=config.free_bits,
            prior=_prior(config),
            seed=config.seed,
            **options,
        )
        spe = config.steps_per_execution
        if keras.backend.backend() == "torch":
            spe = 1  # Keras's PyTorch trainer runs one step per call only.
        if config.distribution in ("mirrored", "multi_worker"):
            # Keras 3.15's multi-step TF function fails on distributed
            # iterators ("You must feed a value for placeholder tensor").
            spe = 1
        vae.compile(optimizer=_optimizer(config, train), steps_per_execution=spe)
    if config.distribution == "multi_worker":
        _give_logs_a_batch_axis(vae)
    return vae


def _give_logs_a_batch_axis(model):
    """Works around multi-worker `fit` in Keras 3.15 (tensorflow/tensorflow
    #72388): its TF step functions reduce every log with
    `strategy.reduce("MEAN", value, axis=0)`, which fails on scalars. Logs of
    shape [1] reduce to scalars; epoch logs are recomputed from the metrics,
    which aggregate over all workers."""
    import tensorflow as tf

    def with_axis(step):
        def wrapped(data):
            return {k: tf.reshape(v, [1]) for k, v in step(data).items()}

        return wrapped

    model.train_step = with_axis(model.train_step)
    model.test_step = with_axis(model.test_step)


def run(config, callbacks=(), log=print, flags_text=None):
    """Trains `config`'s model, writing into `config.workdir`:

    `config.json` (the resolved settings), `backup/` (BackupAndRestore: a
    killed run started again with the same workdir continues from its last
    finished epoch, optimizer included), `history.csv`, `logs/`
    (TensorBoard scalars and images), `images/recon/EPOCH.png` and
    `images/sample_EPOCH.png`, then `vae.keras` (atomically), the serving
    export into `config.export_dir` (`keras_vae.export.export`), and
    `metrics.json` (atomically) last, so a run whose export failed is not
    finished and a rerun retries it. A NaN or Inf loss stops the run with a RuntimeError
    naming the epoch and step; the backup keeps the last good epoch and
    nothing is saved.

    Args:
        config: a `TrainConfig`.
        callbacks: extra Keras callbacks, run after the package's own.
        log: where progress messages go.
        flags_text: the command-line flags that gave `config`, written to
            `flags.txt` once the workdir has passed its compatibility check
            (so `--flagfile=<workdir>/flags.txt` reproduces the run).

    Returns:
        The metrics dict that `metrics.json` holds.
    """
    config.validate()
    # First: MultiWorkerMirroredStrategy must exist before any other TF op.
    scope = distribution_scope(config.distribution)
    chief, index = worker_role()
    if not chief:
        # Other workers train in step with the chief but write only into a
        # scratch folder of their own; the chief writes the run's artifacts.
        worker_dir = os.path.join(config.workdir, f"worker-{index}")
        config = dataclasses.replace(config, workdir=worker_dir, export_dir=None)
    workdir = _prepare_workdir(config, log)
    if flags_text is not None:
        atomic.write_text(os.path.join(workdir, "flags.txt"), flags_text)
    metrics_path = os.path.join(workdir, "metrics.json")
    if os.path.exists(metrics_path):
        with open(metrics_path) as f:
            finished = json.load(f)
        if finished.get("epochs_completed", 0) >= config.epochs:
            log(f"{workdir} already finished {finished['epochs_completed']} epochs.")
            return finished
    atomic.write_json(os.path.join(workdir, "config.json"), config.to_dict())
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        _deterministic_ops()
    if config.mixed_precision != "none":
        keras.config.set_dtype_policy(config.mixed_precision)

    backup_dir = os.path.join(workdir, "backup")
    start = _backup_epoch(backup_dir)
    train, validation, test = _load_data(config, min(start, config.epochs))
    image_shape = _image_shape(train)
    vae = _build(config, image_shape, scope, train)
    _check_free_space(workdir, vae)

    if start:
        log(f"Resuming {workdir} from epoch {start} of {config.epochs}.")
    _trim_history(os.path.join(workdir, "history.csv"), start)
    # Every new iterator of `train` draws the next shuffle and dynamic
    # binarization from the seed. Keras's EpochIterator asks for two per
    # epoch (as the epoch starts and as it ends); on TensorFlow both are made,
    # on JAX and PyTorch the second is a generator never started. A resumed
    # run makes the ones the finished epochs made, so each later epoch sees
    # the data it would have seen (tests/reliability/test_killed_runs.py
    # holds Keras 3.15 to this). One repeated stream with `steps_per_epoch`
    # would avoid the count, but Keras then runs whole `steps_per_execution`
    # calls past each epoch's end. (A `DeviceBatches` starts at its epoch.)
    per_epoch = 2 if keras.backend.backend() == "tensorflow" else 1
    if not isinstance(train, data.DeviceBatches):
        for _ in range(per_epoch * min(start, config.epochs)):
            iter(train)
    shown = next(ds for ds in (test, validation, train) if ds is not None)
    preview = _first_images(shown, 8)
    steps = _StepCounter()
    csv_logger = keras.callbacks.CSVLogger(
        os.path.join(workdir, "history.csv"), append=True
    )
    seeds = _EpochSeeds(vae, config.seed)
    package_callbacks = [
        seeds,
        TerminateOnNaN(),  # Before the backup: NaN weights are never saved.
        csv_logger,
        keras.callbacks.BackupAndRestore(
            backup_dir,
            save_freq="epoch",
            double_checkpoint=True,
            delete_checkpoint=False,
        ),
        keras.callbacks.TensorBoard(os.path.join(workdir, "logs")),
        ImageGrids(
            preview,
            os.path.join(workdir, "images"),
            os.path.join(workdir, "logs"),
            seed=config.seed,
        ),
        steps,
    ]
    if config.kl_warmup_epochs:
        package_callbacks.insert(0, KLWarmup(config.kl_warmup_epochs))
    if config.ema_momentum and validation is not None:
        # Validation sees the averaged weights, which the final model holds;
        # training (and the backups) keep the raw ones.
        package_callbacks.append(keras.callbacks.SwapEMAWeights())
    started = time.perf_counter()
    try:
        history = vae.fit(
            train,
            epochs=config.epochs,
            validation_data=validation,
            callbacks=package_callbacks + list(callbacks) + _progress(callbacks),
            verbose=config.verbose,
            # The data shuffle themselves. (For a PyDataset such as
            # DeviceBatches, `shuffle=True` would also reorder each epoch's
            # batches with Python's global `random`, which a resumed run
            # cannot replay.)
            shuffle=False,
        )
    finally:  # CSVLogger closes its file in on_train_end only, not on errors.
        csv_file = getattr(csv_logger, "csv_file", None)
        if csv_file is not None and not csv_file.closed:
            csv_file.close()
    fit_seconds = time.perf_counter() - started
    last = {k: v[-1] for k, v in history.history.items()} if history.history else {}
    # The test ELBO's noise, too, is fixed by the seed (not by how the run
    # got here: straight through, or resumed).
    seeds.seed_epoch(config.epochs)
    test_logs = vae.evaluate(test, return_dict=True, verbose=0) if test else None
    model_path = os.path.join(workdir, "vae.keras")
    atomic.save_model(vae, model_path)
    exported = None
    if config.export_dir:  # From the saved file: the export is what was saved.
        from keras_vae.export import export

        exported = export(model_path, config.export_dir, config.model_name)
        log(f"Exported version {exported['version']} to {config.export_dir}.")
    metrics = {
        "train": _neg_elbo(last),
        "validation": _neg_elbo(last, "val_"),
        "test": _neg_elbo(test_logs),
        "epochs_completed": history.epoch[-1] + 1 if history.epoch else start,
        "resumed_from_epoch": start,
        "images_per_second": steps.images(config.batch_size) / fit_seconds,
        "wall_time_seconds": fit_seconds,
        "replicas": replicas(vae),
        "backend": keras.backend.backend(),
        "dtype_policy": keras.config.dtype_policy().name,
        "export": exported,
    }
    atomic.write_json(metrics_path, metrics)
    log(
        f"Wrote {os.path.join(workdir, 'vae.keras')} and metrics.json: "
        f"test neg. ELBO {metrics['test'] and round(metrics['test']['neg_elbo'], 2)}"
    )
    return metrics


def _deterministic_ops():
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif backend == "torch":
        import torch

        torch.use_deterministic_algorithms(True)
    # JAX (XLA) is deterministic on CPU; on GPU set XLA_FLAGS=
    # --xla_gpu_deterministic_ops=true before starting.


def _progress(callbacks):
    """The package's progress bar, last as Keras puts its own, unless the
    caller gave one."""
    if any(isinstance(c, keras.callbacks.ProgbarLogger) for c in callbacks):
        return []
    return [ProgbarLogger()]


class _EpochSeeds(keras.callbacks.Callback):
    """Sets the sampling noise's seed state from (seed, epoch) at each epoch:
    Keras does not save a SeedGenerator's state (keras-team/keras#19796), so
    without this a resumed run would draw other noise than the original."""

    def __init__(self, vae, seed):
        super().__init__()
        self.generator = vae.sampling.seed_generator
        self.seed = seed

    def on_epoch_begin(self, epoch, logs=None):
        self.seed_epoch(epoch)

    def seed_epoch(self, epoch):
        state = np.array([self.seed, epoch * 1_000_003], dtype="int64")
        self.generator.state.assign(
            state.astype(keras.backend.standardize_dtype(self.generator.state.dtype))
        )


class _StepCounter(keras.callbacks.Callback):
    """Counts training steps in this process, for images/s. With
    `steps_per_execution` > 1 Keras calls back once per call, with `batch`
    the epoch's index of the call's last step."""

    def __init__(self):
        super().__init__()
        self.steps = 0
        self.in_epoch = 0

    def on_train_batch_end(self, batch, logs=None):
        self.in_epoch = steps_finished(batch, self.params)

    def on_epoch_end(self, epoch, logs=None):
        self.steps += self.in_epoch
        self.in_epoch = 0

    def images(self, batch_size):
        # A partial last batch counts as full: an overestimate of at most one
        # batch per epoch.
        return self.steps * batch_size
