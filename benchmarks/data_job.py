"""Images/s of `keras_vae.data.load` alone, and its peak memory.

Sources: the Fashion-MNIST IDX files (`"source": "idx"`), or a folder of
generated JPEGs resized to 64x64 RGB (`"source": "folder"`). Epoch 1 of a
folder decodes every file; later epochs read the in-memory cache, unless
`cache_bytes` is set below the decoded size, in which case every epoch
streams from disk (the memory-flatness measurement).
"""

import time

STARTED = time.perf_counter()

import os  # noqa: E402
import tempfile  # noqa: E402

import common  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_vae  # noqa: E402
from keras_vae.data import loading  # noqa: E402

IMPORT_S = time.perf_counter() - STARTED


def write_jpegs(folder, count, size=96, seed=0):
    """`count` random-blob RGB JPEGs of `size`x`size` (encoded by TF)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:size, 0:size]
    for i in range(count):
        cy, cx = rng.uniform(0, size, 2)
        blob = np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * (size / 6) ** 2))
        rgb = blob[..., None] * rng.uniform(0, 255, 3) + rng.normal(
            0, 8, (size, size, 3)
        )
        pixels = np.clip(rgb, 0, 255).astype(np.uint8)
        tf.io.write_file(
            os.path.join(folder, f"{i:06d}.jpg"), tf.io.encode_jpeg(pixels)
        )


def time_epochs(ds, epochs):
    rates = []
    for _ in range(epochs):
        start, count = time.perf_counter(), 0
        for batch in ds:
            count += int(batch.shape[0])
        rates.append(round(count / (time.perf_counter() - start), 1))
    return rates, count


def main():
    spec = common.job_spec()
    if spec.get("cache_bytes") is not None:
        loading.CACHE_BYTES = spec["cache_bytes"]
    args = {"batch_size": spec["batch_size"], "seed": 0}
    if spec.get("binarize"):
        args["binarize"] = spec["binarize"]
    result = {"impl": "keras_vae.data", "source": spec["source"]}
    with tempfile.TemporaryDirectory() as tmp:
        if spec["source"] == "idx":
            source = "idx:" + common.data_dir(spec.get("data_dir"))
            ds = keras_vae.data.load(source, max_examples=spec.get("examples"), **args)
        else:
            start = time.perf_counter()
            write_jpegs(tmp, spec["examples"])
            result["write_s"] = round(time.perf_counter() - start, 2)
            ds = keras_vae.data.load("folder:" + tmp, image_size=64, channels=3, **args)
        rates, count = time_epochs(ds, spec["epochs"])
    result.update(
        {
            "examples": count,
            "binarize": spec.get("binarize"),
            "cache_bytes": loading.CACHE_BYTES,
            "images_per_sec_by_epoch": rates,
            # Steady state: the last epoch (cached, or streaming throughout).
            "images_per_sec": rates[-1],
            "import_s": round(IMPORT_S, 3),
        }
    )
    common.emit(result)


if __name__ == "__main__":
    main()
