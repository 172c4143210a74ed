"""`DeviceBatches`: images held on the accelerator, batched there for `fit`.

`fit` on NumPy arrays (or on a `tf.data` pipeline) slices every batch on the
host and copies it to the device. On a GPU with JAX that input took 0.38-0.72
of an epoch of the package's small models (benchmarks/RESULTS.md, GPU), while
a hand-written PyTorch loop keeps the whole set on the GPU and slices it
there. A data set that fits in device memory (Fashion-MNIST in float32 is 188
MB) can do the same through Keras: this `keras.utils.PyDataset` copies the
images to the default device once, shuffles them there once per epoch (one
gather) and hands `fit` slices that never leave the device. Keras's JAX
trainer passes device arrays through (`jax.device_put` of a device array is a
no-op), and its torch trainer takes the tensors as they are.

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
        self.image_shape = tuple(images.shape[1:])
        self._rng = np.random.default_rng(seed)
        self._images = ops.convert_to_tensor(images, dtype="float32")
        self._epoch_images = self._images

    def __len__(self):
        return -(-self.count // self.batch_size)

    def on_epoch_begin(self):
        if self.shuffle:
            order = self._rng.permutation(self.count).astype("int32")
            self._epoch_images = ops.take(
                self._images, ops.convert_to_tensor(order), axis=0
            )

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(
                f"Batch index must be in [0, {len(self)}). Received: index={index}"
            )
        start = index * self.batch_size
        size = min(self.batch_size, self.count - start)
        # `ops.slice` takes the start as an operand (JAX's dynamic_slice), so
        # one compiled slice serves every batch of a size.
        batch = ops.slice(
            self._epoch_images, (start, 0, 0, 0), (size, *self.image_shape)
        )
        return (batch,)
