"""Callbacks that steer a VAE's objective during `fit`."""

import keras


class KLWarmup(keras.callbacks.Callback):
    """Raises the KL weight linearly from 0 to the model's `beta`.

    At the start of epoch `e` it sets `model.kl_weight` to
    `beta * min(1, e / epochs)`: epoch 0 trains the reconstruction alone and
    epoch `epochs` onwards uses the full `beta`. The weight is a function of
    the epoch index, so a run resumed by `BackupAndRestore` continues the
    same schedule. The value used in each epoch is added to the epoch's logs
    as `kl_weight` (History, TensorBoard).

    It assigns the variable in `on_epoch_begin`, when every backend (JAX
    included) reads the model's variables afresh.

    Args:
        epochs: int >= 1, the length of the warm-up.

    Example:

    ```python
    vae.fit(ds, epochs=20, callbacks=[keras_vae.callbacks.KLWarmup(epochs=5)])
    ```
    """

    def __init__(self, epochs):
        super().__init__()
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(
                f"`epochs` must be an int >= 1. Received: epochs={epochs!r}"
            )
        self.epochs = epochs
        self._weight = None

    def on_epoch_begin(self, epoch, logs=None):
        self._weight = self.model.beta * min(1.0, epoch / self.epochs)
        self.model.kl_weight.assign(self._weight)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._weight is not None:
            logs["kl_weight"] = self._weight
