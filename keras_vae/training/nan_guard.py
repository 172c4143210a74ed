"""Stops training at the first NaN or Inf loss, saying where."""

import math

import keras
import numpy as np


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
        # With `steps_per_execution` > 1 Keras calls back once per call, with
        # `batch` the index of the call's last step (past the epoch's end for
        # a short last call), so name the range of steps the call ran.
        last = batch + 1
        steps = (self.params or {}).get("steps")
        if steps:
            last = min(last, steps)
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
