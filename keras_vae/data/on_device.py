"""`DeviceBatches`: images held on the accelerator, batched there for `fit`.

`fit` on NumPy arrays (or on a `tf.data` pipeline) slices every batch on the
host and copies it to the device. On a GPU with JAX that input took 0.38-0.72
of an epoch of the package's small models (benchmarks/RESULTS.md, GPU), while
a hand-written PyTorch loop keeps the whole set on the GPU and slices it
there. A data set that fits in device memory (Fashion-MNIST in float32 is 188
MB) can do the same through Keras: this `keras.utils.PyDataset` copies the
images to the default device once, shuffles them there once per epoch (one
gather, then one split into the epoch's batches) and hands `fit` batches
that never leave the device. Keras's JAX trainer passes device arrays
through (`jax.device_put` of a device array is a no-op), and its torch
trainer takes the tensors as they are.

Backend-neutral (`keras.ops` only). On TensorFlow prefer `keras_vae.data.load`:
tf.data already prefetches, and a PyDataset goes through a Python generator.
"""

import keras
import numpy as np
from keras import ops

from keras_vae.data.arrays import check_images_array

_SPEC = "DeviceBatches"


class DeviceBatches(keras.utils.PyDataset):
    """Shuffled batches of images that stay on the accelerator.

    Args:
        images: array `(N, H, W)` or `(N, H, W, C)`, uint8 or float in
            [0, 1] (uint8 is scaled by 1/255). Copied to the default device
            as float32 once.
        batch_size: images per batch; the last batch of an epoch holds the
            rest (`N % batch_size`), as `fit` on arrays does.
        shuffle: draw a new order at the start of every epoch.
        seed: seed of the orders; the same seed gives the same epochs.
        **kwargs: those of `keras.utils.PyDataset` (`workers`,
            `use_multiprocessing`, `max_queue_size`). The defaults, one
            worker and no processes, keep batching in the trainer's thread,
            which is what device arrays need.

    Example:

    >>> batches = DeviceBatches(x_train, batch_size=128, seed=0)
    >>> vae.fit(batches, epochs=10)
    """

    def __init__(self, images, batch_size, shuffle=True, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                f"`batch_size` must be a positive integer. Received: "
                f"batch_size={batch_size!r}"
            )
        images = check_images_array(_SPEC, np.asarray(images), "images")
        if images.dtype == np.uint8:
            images = images.astype("float32") / 255.0
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.count = len(images)
        self._rng = np.random.default_rng(seed)
        self._images = ops.convert_to_tensor(images, dtype="float32")
        # Cut on first use: with shuffle=True the first epoch cuts its own.
        self._batches = None

    def __len__(self):
        return -(-self.count // self.batch_size)

    def _split(self, images):
        """The epoch's batches, cut in one op: one dispatch an epoch instead
        of one per batch. On a GPU with JAX a slice per batch took 1.2 ms,
        0.41 of a `conv` epoch (benchmarks/RESULTS.md, GPU); the cut costs
        one compilation per data set shape, in the first epoch."""
        boundaries = list(range(self.batch_size, self.count, self.batch_size))
        if not boundaries:
            return [images]
        return ops.split(images, boundaries, axis=0)

    def on_epoch_begin(self):
        if self.shuffle:
            order = self._rng.permutation(self.count).astype("int32")
            shuffled = ops.take(self._images, ops.convert_to_tensor(order), axis=0)
            self._batches = self._split(shuffled)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(
                f"Batch index must be in [0, {len(self)}). Received: index={index}"
            )
        if self._batches is None:
            self._batches = self._split(self._images)
        return (self._batches[index],)
