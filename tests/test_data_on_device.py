"""`DeviceBatches`: batches on the device that feed `fit` on every backend."""

import keras
import numpy as np
import pytest
from conftest import device_epoch
from conftest import tiny_vae

from keras_vae import data


def _rows(arrays):
    """The images of a list of batches, as sorted bytes (order-free)."""
    return sorted(row.tobytes() for batch in arrays for row in batch)


def test_each_epoch_holds_every_image_once(images):
    x = images[:100]
    batches = data.DeviceBatches(x, batch_size=32, seed=0)
    assert len(batches) == 4
    first, second = device_epoch(batches), device_epoch(batches)
    for epoch in (first, second):
        assert [len(b) for b in epoch] == [32, 32, 32, 4]
        assert all(b.shape[1:] == (8, 8, 1) and b.dtype == np.float32 for b in epoch)
        assert _rows(epoch) == _rows([x])
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))


def test_batches_are_backend_tensors(images):
    batch = data.DeviceBatches(images, batch_size=16, seed=0)[0]
    assert isinstance(batch, tuple) and len(batch) == 1
    assert keras.ops.is_tensor(batch[0])
    assert not isinstance(batch[0], np.ndarray)


def test_same_seed_same_epochs_and_no_shuffle_keeps_order(images):
    x = images[:64]
    a = device_epoch(data.DeviceBatches(x, batch_size=16, seed=3))
    b = device_epoch(data.DeviceBatches(x, batch_size=16, seed=3))
    np.testing.assert_array_equal(np.concatenate(a), np.concatenate(b))
    kept = device_epoch(data.DeviceBatches(x, batch_size=16, shuffle=False))
    np.testing.assert_array_equal(np.concatenate(kept), x)


def test_uint8_images_are_scaled_and_channel_added():
    x = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4) * 7
    (batch,) = data.DeviceBatches(x, batch_size=2, shuffle=False)[0]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(batch), x[..., None] / 255.0, rtol=1e-6
    )


def test_fit_on_device_batches_matches_fit_on_arrays(images):
    """Same model, seed and batch order: the same weights after an epoch."""
    x = images[:96]
    weights = []
    for feed in ("arrays", "device"):
        keras.utils.set_random_seed(0)
        vae = tiny_vae("conv", seed=0)
        vae.compile(optimizer=keras.optimizers.Adam(1e-2))
        if feed == "arrays":
            history = vae.fit(x, batch_size=32, epochs=1, shuffle=False, verbose=0)
        else:
            batches = data.DeviceBatches(x, batch_size=32, shuffle=False)
            history = vae.fit(batches, epochs=1, shuffle=False, verbose=0)
        assert np.isfinite(history.history["loss"]).all()
        weights.append(vae.get_weights())
    moved = [np.abs(w).sum() for w in weights[0]]
    assert sum(moved) > 0
    for arrays_w, device_w in zip(*weights, strict=True):
        np.testing.assert_allclose(device_w, arrays_w, rtol=1e-4, atol=1e-5)


def test_fit_runs_several_steps_per_execution(images):
    vae = tiny_vae()
    spe = 1 if keras.backend.backend() == "torch" else 3
    vae.compile(steps_per_execution=spe)
    batches = data.DeviceBatches(images[:100], batch_size=16, seed=0)
    history = vae.fit(batches, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert np.isfinite(history.history["loss"]).all()
    assert int(keras.ops.convert_to_numpy(vae.optimizer.iterations)) == 2 * 7


def test_dynamic_binarization_draws_each_epoch_on_the_device():
    # Row i holds probability p_i everywhere; rows stay in order (no shuffle).
    p = np.array([0.0, 0.3, 0.7, 1.0], "float32")
    x = np.repeat(p, 40 * 8 * 8).reshape(160, 8, 8, 1)
    batches = data.DeviceBatches(
        x, batch_size=64, shuffle=False, seed=0, binarize="dynamic"
    )
    epochs = [np.concatenate(device_epoch(batches)) for _ in range(3)]
    for images in epochs:
        assert set(np.unique(images)) <= {0.0, 1.0}
        means = images.reshape(4, -1).mean(axis=1)  # 2,560 draws a row
        np.testing.assert_allclose(means, p, atol=0.04)
        assert means[0] == 0.0 and means[3] == 1.0
    assert not np.array_equal(epochs[0], epochs[1])
    assert not np.array_equal(epochs[1], epochs[2])


def _gray(images):
    """Pixels of probability 0.2 and 0.8: their binarizations vary."""
    return images * 0.6 + 0.2


def test_epochs_are_fixed_by_seed_and_epoch_so_a_resumed_run_sees_the_same(images):
    x = _gray(images[:64])
    options = dict(batch_size=16, seed=5, binarize="dynamic")
    whole = data.DeviceBatches(x, **options)
    want = [np.concatenate(device_epoch(whole)) for _ in range(3)]
    again = data.DeviceBatches(x, **options)
    np.testing.assert_array_equal(np.concatenate(device_epoch(again)), want[0])
    resumed = data.DeviceBatches(x, initial_epoch=2, **options)
    assert resumed.epoch == 2
    np.testing.assert_array_equal(np.concatenate(device_epoch(resumed)), want[2])
    assert resumed.epoch == 3
    other_seed = data.DeviceBatches(x, **{**options, "seed": 6})
    assert not np.array_equal(np.concatenate(device_epoch(other_seed)), want[0])


def test_a_peek_before_the_first_epoch_shows_that_epochs_batches(images):
    """Keras's TensorFlow adapter reads batch 0 before the epoch begins: it
    must see the epoch's data, and the peek must not use up an epoch."""
    x = _gray(images[:64])
    options = dict(batch_size=16, seed=2, binarize="dynamic")
    peeked = data.DeviceBatches(x, **options)
    (first,) = peeked[0]
    epoch = device_epoch(peeked)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(first), epoch[0])
    fresh = device_epoch(data.DeviceBatches(x, **options))
    np.testing.assert_array_equal(np.concatenate(epoch), np.concatenate(fresh))


def test_fit_with_dynamic_binarization_trains_on_zeros_and_ones(images):
    vae = tiny_vae()
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = _gray(images[:64])
    batches = data.DeviceBatches(x, batch_size=16, seed=0, binarize="dynamic")
    history = vae.fit(batches, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert batches.epoch == 2
    (last,) = batches[0]  # the second epoch's first batch
    assert set(np.unique(keras.ops.convert_to_numpy(last))) == {0.0, 1.0}


@pytest.mark.parametrize(
    "options, message",
    [
        ({"binarize": "static"}, "binarize='static'"),
        ({"initial_epoch": -1}, "initial_epoch=-1"),
        ({"initial_epoch": 1.0}, "initial_epoch=1.0"),
    ],
)
def test_bad_binarize_and_initial_epoch_are_refused(images, options, message):
    with pytest.raises(ValueError, match=message):
        data.DeviceBatches(images, batch_size=4, **options)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, None])
def test_bad_batch_size_is_refused(images, batch_size):
    with pytest.raises(ValueError, match=f"batch_size={batch_size!r}"):
        data.DeviceBatches(images, batch_size=batch_size)


def test_bad_images_are_refused():
    with pytest.raises(data.DataError, match=r"shape=\(5,\)"):
        data.DeviceBatches(np.zeros(5, "float32"), batch_size=2)
    out_of_range = r"in \[0, 1\]. Received: values in \[2, 2\]"
    with pytest.raises(data.DataError, match=out_of_range):
        data.DeviceBatches(np.full((2, 4, 4), 2.0, "float32"), batch_size=2)


def test_index_past_the_end_is_refused(images):
    batches = data.DeviceBatches(images[:10], batch_size=4)
    with pytest.raises(IndexError, match=r"\[0, 3\). Received: index=3"):
        batches[3]
