"""`BatchNormalization`: Keras's layer, with the fused kernel of TF and PyTorch."""

import keras
import numpy as np
import pytest

import keras_vae
from keras_vae.architectures.batch_norm import BatchNormalization

# The backends whose own fused kernel the layer calls (JAX: Keras's computation).
FUSED = keras.backend.backend() in ("tensorflow", "torch")

# input shape -> the layers' channels (the last axis)
SHAPES = [(6, 5), (4, 3, 5), (4, 3, 2, 5), (2, 3, 2, 2, 5)]


def _pair(shape, momentum=0.9, **kwargs):
    """Keras's layer and ours, built, with the same non-trivial weights."""
    theirs = keras.layers.BatchNormalization(momentum=momentum, **kwargs)
    ours = BatchNormalization(momentum=momentum, **kwargs)
    theirs.build(shape)
    ours.build(shape)
    rng = np.random.default_rng(1)
    weights = [
        w + rng.uniform(0.5, 1.5, w.shape).astype("float32")
        for w in theirs.get_weights()
    ]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return theirs, ours


def _images(shape, seed=0):
    rng = np.random.default_rng(seed)
    return (3.0 * rng.normal(size=shape) + 1.5).astype("float32")


@pytest.mark.parametrize("shape", SHAPES)
def test_training_and_inference_match_kerass_layer(shape):
    theirs, ours = _pair(shape)
    x = _images(shape)
    assert ours.uses_fused(x) == FUSED
    before = ours.get_weights()
    for training in (True, False):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(ours(x, training=training)),
            keras.ops.convert_to_numpy(theirs(x, training=training)),
            rtol=1e-5,
            atol=1e-5,
        )
    # One training call moved the moving statistics the same way: the biased
    # batch variance, as Keras's layer takes.
    for mine, keras_weight in zip(
        ours.get_weights(), theirs.get_weights(), strict=True
    ):
        np.testing.assert_allclose(mine, keras_weight, rtol=1e-5, atol=1e-6)
    moved = [
        not np.allclose(a, b) for a, b in zip(ours.get_weights(), before, strict=True)
    ]
    assert moved == [False, False, True, True]  # gamma, beta, mean, variance


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_a_training_step_matches_kerass_layer(policy):
    """Gradients through the layer to its weights and to the layer below."""
    keras.config.set_dtype_policy(policy)
    try:
        shape, models = (8, 4, 4, 3), []
        for layer in _pair((8, 4, 4, 6)):
            keras.utils.set_random_seed(3)
            model = keras.Sequential(
                [keras.Input(shape[1:]), keras.layers.Dense(6), layer]
            )
            model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
            models.append(model)
        x = _images(shape)
        y = _images((8, 4, 4, 6), seed=1)
        for model in models:
            model.train_on_batch(x, y)
        tol = 1e-5 if policy == "float32" else 2e-2
        theirs, ours = (m.get_weights() for m in models)
        assert len(ours) == 6  # kernel, bias, gamma, beta, moving mean and var
        for mine, keras_weight in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(mine, keras_weight, rtol=tol, atol=tol)
        assert (
            models[1].layers[-1].compute_dtype
            == keras.config.dtype_policy().compute_dtype
        )
    finally:
        keras.config.set_dtype_policy("float32")


def test_masks_other_axes_and_fused_false_take_kerass_computation():
    x = _images((4, 3, 2, 5))
    assert not BatchNormalization(fused=False).uses_fused(x)
    assert not BatchNormalization(axis=1).uses_fused(x)
    assert not BatchNormalization().uses_fused(x, mask=np.ones((4, 3, 2)))
    theirs, ours = _pair((4, 5, 2), axis=1)
    x = _images((4, 5, 2))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(ours(x, training=True)),
        keras.ops.convert_to_numpy(theirs(x, training=True)),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.skipif(not FUSED, reason="JAX has no fused kernel to call")
def test_fused_true_refuses_what_the_kernel_cannot_do():
    assert BatchNormalization(fused=True).uses_fused(_images((2, 3, 3, 4)))
    with pytest.raises(ValueError, match=r"renorm=False .*renorm=True"):
        BatchNormalization(fused=True, renorm=True)


@pytest.mark.skipif(FUSED, reason="this backend has the fused kernel")
def test_fused_true_names_the_backend_it_needs():
    with pytest.raises(
        ValueError, match="TensorFlow or PyTorch backend.*backend='jax'"
    ):
        BatchNormalization(fused=True)


def test_fused_takes_none_true_or_false():
    with pytest.raises(ValueError, match="None, True or False. Received: fused='yes'"):
        BatchNormalization(fused="yes")


def test_the_layer_saves_with_its_config(tmp_path):
    layer = BatchNormalization(fused=False, momentum=0.8, epsilon=1e-4)
    model = keras.Sequential([keras.Input((3, 3, 2)), layer])
    x = _images((2, 3, 3, 2))
    model(x, training=True)  # moves the moving statistics
    path = tmp_path / "bn.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    again = loaded.layers[-1]
    assert type(again) is BatchNormalization
    assert again.get_config() == layer.get_config()
    assert again.fused is False and again.momentum == 0.8
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x))
    )


def test_dcgan_normalizes_with_this_layer():
    vae = keras_vae.build_vae("dcgan", (16, 16, 1), 4)
    norms = [
        layer
        for model in (vae.encoder, vae.decoder)
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert len(norms) == 3
    assert all(type(layer) is BatchNormalization for layer in norms)
    assert all(layer.uses_fused(_images((2, 4, 4, 1))) == FUSED for layer in norms)
