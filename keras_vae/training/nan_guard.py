"""Stops training at the first NaN or Inf loss, saying where."""

import math

import keras
import numpy as np

from keras_vae.training.steps import steps_finished


class TerminateOnNaN(keras.callbacks.Callback):
    """Raises RuntimeError naming the epoch and step of a NaN/Inf loss.

    Keras's own `TerminateOnNaN` stops gracefully by default, which lets
    `BackupAndRestore` and later saves run on bad weights; raising ends `fit`
    at once. Place it before `BackupAndRestore`.
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0
        self._done = 0  # steps of this epoch before the current call

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._done = 0

    def on_train_batch_end(self, batch, logs=None):
        # A call may run several steps: name the range it ran.
        last = steps_finished(batch, self.params)
        first, self._done = self._done + 1, last
        loss = (logs or {}).get("loss")
        if loss is not None:
            loss = float(np.asarray(loss).reshape(-1)[0])
        if loss is not None and not math.isfinite(loss):
            where = f"step {last}" if first >= last else f"steps {first}-{last}"
            raise RuntimeError(
                f"Training stopped: the loss is {loss} at epoch "
                f"{self._epoch + 1}, {where}. The last good epoch stays "
                "in the workdir's backup; nothing was saved or exported."
            )
