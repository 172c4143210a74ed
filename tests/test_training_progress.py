import importlib

import keras
from training_helpers import tiny_config

from keras_vae.training import progress
from keras_vae.training import run

# The module, which the package's `run` function shadows.
run_module = importlib.import_module("keras_vae.training.run")


class _Recording(progress.ProgbarLogger):
    """The package's progress bar, noting the count it shows after each call."""

    def __init__(self):
        super().__init__()
        self.shown = []

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self.shown.append([])

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        self.shown[-1].append(self.seen)


def _started(logger, steps):
    logger.set_params({"verbose": 0, "epochs": 1, "steps": steps})
    logger.on_train_begin()
    logger.on_epoch_begin(0)
    return logger


def test_a_short_last_call_counts_only_the_epochs_steps():
    # 10 steps in calls of 4: Keras reports the calls' last steps as 3, 7, 11.
    logger = _started(_Recording(), steps=10)
    for batch in (3, 7, 11):
        logger.on_train_batch_end(batch, {"loss": 1.0})
    assert logger.shown == [[4, 8, 10]]


def test_an_epoch_of_unknown_length_is_counted_as_reported():
    logger = _started(_Recording(), steps=None)
    for batch in (3, 7, 11):
        logger.on_train_batch_end(batch, {"loss": 1.0})
    assert logger.shown == [[4, 8, 12]]


def test_a_run_shows_each_epochs_steps_without_overshooting(tmp_path, monkeypatch):
    recorders = []

    def recording():
        recorders.append(_Recording())
        return recorders[-1]

    monkeypatch.setattr(run_module, "ProgbarLogger", recording)
    # 72 training images at batch 32: 3 steps an epoch, in calls of 2 (of 1
    # on PyTorch, whose trainer runs one step per call).
    config = tiny_config(tmp_path, epochs=2, steps_per_execution=2)
    run(config, log=lambda message: None)
    (logger,) = recorders
    calls = [1, 2, 3] if keras.backend.backend() == "torch" else [2, 3]
    assert logger.shown == [calls, calls]


def test_a_callers_own_progress_bar_replaces_the_packages(tmp_path, monkeypatch):
    made = []
    monkeypatch.setattr(run_module, "ProgbarLogger", lambda: made.append(1))
    mine = _Recording()
    run(tiny_config(tmp_path, epochs=1), callbacks=[mine], log=lambda m: None)
    assert made == [] and len(mine.shown) == 1
