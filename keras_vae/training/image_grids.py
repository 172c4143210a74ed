"""Per-epoch PNG grids and TensorBoard images of reconstructions and samples."""

import os

import keras
import numpy as np

from keras_vae.training import atomic


def make_grid(images, columns, pad=1):
    """Tiles `[n, H, W, C]` images in [0, 1] into one `[rows*H, cols*W, C]` image."""
    images = np.asarray(images, "float32")
    n, height, width, channels = images.shape
    rows = -(-n // columns)
    grid = np.ones(
        (rows * (height + pad) + pad, columns * (width + pad) + pad, channels),
        "float32",
    )
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        top, left = pad + r * (height + pad), pad + c * (width + pad)
        grid[top : top + height, left : left + width] = image
    return grid


def save_png(path, grid):
    """Writes a grid to PNG atomically (gray for one channel)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image

    grid = np.clip(grid, 0.0, 1.0)
    with atomic.atomic_path(path) as tmp:
        if grid.shape[-1] == 1:
            matplotlib.image.imsave(
                tmp, grid[..., 0], cmap="gray", vmin=0, vmax=1, format="png"
            )
        else:
            matplotlib.image.imsave(tmp, grid, format="png")


class ImageGrids(keras.callbacks.Callback):
    """Writes `recon/EPOCH.png` (originals above reconstructions) and
    `sample_EPOCH.png` (prior samples) under `image_dir` after each epoch,
    and the same images to TensorBoard under `log_dir`.

    Args:
        images: a fixed batch of images to reconstruct (e.g. 8 test images).
        image_dir: folder of the PNG files.
        log_dir: TensorBoard folder, or None.
        num_samples: prior samples per grid.
        seed: seed of the prior samples, so grids are comparable over epochs.
    """

    def __init__(self, images, image_dir, log_dir=None, num_samples=64, seed=0):
        super().__init__()
        self.images = np.asarray(images, "float32")
        self.image_dir = image_dir
        self.log_dir = log_dir
        self.num_samples = num_samples
        self.seed = seed

    def on_epoch_end(self, epoch, logs=None):
        number = epoch + 1
        recon = self.model.reconstruct(self.images)
        columns = len(self.images)
        pair = make_grid(np.concatenate([self.images, recon]), columns)
        samples = make_grid(self.model.sample(self.num_samples, seed=self.seed), 8)
        save_png(os.path.join(self.image_dir, "recon", f"{number}.png"), pair)
        save_png(os.path.join(self.image_dir, f"sample_{number}.png"), samples)
        if self.log_dir:
            import tensorflow as tf

            writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "images"))
            with writer.as_default():
                tf.summary.image("reconstructions", pair[None], step=number)
                tf.summary.image("prior_samples", samples[None], step=number)
            writer.close()
