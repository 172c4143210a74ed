"""`DeviceBatches`: images held on the accelerator, batched there for `fit`.

`fit` on NumPy arrays (or on a `tf.data` pipeline) slices every batch on the
host and copies it to the device. On a GPU with JAX that input took 0.38-0.72
of an epoch of the package's small models (benchmarks/RESULTS.md, GPU), while
a hand-written PyTorch loop keeps the whole set on the GPU and slices it
there. A data set that fits in device memory (Fashion-MNIST in float32 is 188
MB) can do the same through Keras: this `keras.utils.PyDataset` copies the
images to the default device once, shuffles them there once per epoch (one
gather, then one split into the epoch's batches; optionally one Bernoulli
draw of the whole epoch, dynamic binarization) and hands `fit` batches that
never leave the device. Keras's JAX trainer passes device arrays
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
BINARIZE = (None, "dynamic")


class DeviceBatches(keras.utils.PyDataset):
    """Shuffled batches of images that stay on the accelerator.

    Every epoch's order (and, with `binarize="dynamic"`, its Bernoulli
    sample) is a function of `(seed, epoch)` alone, so a run resumed at epoch
    k with `initial_epoch=k` sees the data an uninterrupted run would.

    Args:
        images: array `(N, H, W)` or `(N, H, W, C)`, uint8 or float in
            [0, 1] (uint8 is scaled by 1/255). Copied to the default device
            as float32 once.
        batch_size: images per batch; the last batch of an epoch holds the
            rest (`N % batch_size`), as `fit` on arrays does.
        shuffle: draw a new order at the start of every epoch.
        seed: seed of the orders and binarizations; the same seed gives the
            same epochs. None: drawn once, at random.
        binarize: None, or "dynamic": a new Bernoulli sample of every image
            (pixel values are the probabilities) each epoch, drawn on the
            device. Binarize once on the host for a static or thresholded
            set.
        initial_epoch: epochs already trained; the first epoch begun is
            this one's (resuming a run).
        **kwargs: those of `keras.utils.PyDataset` (`workers`,
            `use_multiprocessing`, `max_queue_size`). The defaults, one
            worker and no processes, keep batching in the trainer's thread,
            which is what device arrays need.

    Example:

    >>> batches = DeviceBatches(x_train, batch_size=128, seed=0)
    >>> vae.fit(batches, epochs=10, shuffle=False)

    `shuffle=False` in `fit`: with its default, `fit` also reorders each
    epoch's batches with Python's global `random`, outside `seed`'s control
    (a resumed run would not see the same epochs).
    """

    def __init__(
        self,
        images,
        batch_size,
        shuffle=True,
        seed=None,
        binarize=None,
        initial_epoch=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                f"`batch_size` must be a positive integer. Received: "
                f"batch_size={batch_size!r}"
            )
        if binarize not in BINARIZE:
            raise ValueError(
                f"`binarize` must be one of {list(BINARIZE)}. Received: "
                f"binarize={binarize!r}"
            )
        if not isinstance(initial_epoch, int) or initial_epoch < 0:
            raise ValueError(
                f"`initial_epoch` must be an integer >= 0. Received: "
                f"initial_epoch={initial_epoch!r}"
            )
        images = check_images_array(_SPEC, np.asarray(images), "images")
        if images.dtype == np.uint8:
            images = images.astype("float32") / 255.0
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.binarize = binarize
        self.count = len(images)
        self.image_shape = tuple(images.shape[1:])
        # The epoch the next `on_epoch_begin` starts.
        self.epoch = initial_epoch
        self._seed = int(np.random.randint(2**31)) if seed is None else seed
        self._images = ops.convert_to_tensor(images, dtype="float32")
        # Cut on first use (a peek before the first epoch makes that epoch's).
        self._batches = None
        self._batches_epoch = None

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

    def _epoch_images(self, epoch):
        """The images of `epoch`, in its order and binarization."""
        images = self._images
        if self.shuffle:
            rng = np.random.default_rng([self._seed, epoch])
            order = rng.permutation(self.count).astype("int32")
            images = ops.take(images, ops.convert_to_tensor(order), axis=0)
        if self.binarize == "dynamic":
            # Its own stream: 1 tells it apart from the order's (seed, epoch).
            noise_seed = np.random.default_rng([self._seed, epoch, 1]).integers(2**31)
            noise = keras.random.uniform(ops.shape(images), seed=int(noise_seed))
            images = ops.cast(ops.less(noise, images), "float32")
        return images

    def _cut(self, epoch):
        if not (self.shuffle or self.binarize):
            epoch = 0  # Every epoch the same: cut once.
        if self._batches_epoch != epoch:
            self._batches = self._split(self._epoch_images(epoch))
            self._batches_epoch = epoch

    def on_epoch_begin(self):
        self._cut(self.epoch)
        self.epoch += 1

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(
                f"Batch index must be in [0, {len(self)}). Received: index={index}"
            )
        if self._batches is None:
            # A peek before any epoch began (Keras's TensorFlow adapter reads
            # batch 0 for its spec): the coming epoch's batches, kept for it.
            self._cut(self.epoch)
        return (self._batches[index],)
