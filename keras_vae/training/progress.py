"""Keras's progress bar, without counting past an epoch's last step."""

import keras

from keras_vae.training.steps import steps_finished


class ProgbarLogger(keras.callbacks.ProgbarLogger):
    """`keras.callbacks.ProgbarLogger` that shows the steps a call ran.

    With `steps_per_execution` > 1 Keras calls back once per call, with
    `batch` the index of the call's last step as if every call ran all of
    them. So an epoch of 422 steps in calls of 50 shows `450/422` before its
    final `422/422` (keras-team/keras#20861). This caps `batch` at the
    epoch's last step when the epoch's length is known; everything else is
    Keras's. `fit` uses it in place of its own when it is in `callbacks`.
    """

    def set_params(self, params):
        super().set_params(params)
        self.params = params  # Keras's own keeps only the ones it shows.

    def _capped(self, batch):
        return steps_finished(batch, self.params) - 1

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(self._capped(batch), logs)

    def on_test_batch_end(self, batch, logs=None):
        super().on_test_batch_end(self._capped(batch), logs)

    def on_predict_batch_end(self, batch, logs=None):
        super().on_predict_batch_end(self._capped(batch), logs)
