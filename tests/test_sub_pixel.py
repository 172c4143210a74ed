import keras
import numpy as np
import pytest
from keras import ops

import keras_vae
from keras_vae.architectures import sub_pixel
from keras_vae.architectures.sub_pixel import SubPixelConv2DTranspose

# (kernel_size, strides, in_channels, filters, input side): the conv and dcgan
# architectures' layers, and odd sizes and strides.
CASES = [
    (3, 2, 8, 4, 7),
    (3, 1, 4, 1, 6),
    (4, 2, 6, 3, 4),
    (5, 2, 3, 2, 5),
    (5, 3, 3, 2, 4),
    (2, 2, 3, 2, 5),
    (1, 1, 3, 2, 3),
    ((3, 4), (2, 1), 3, 2, 5),
]


def _pair(kind, kernel_size, strides, filters, activation="relu", use_bias=True):
    """Two layers with the same weights, one per formulation."""
    return [
        SubPixelConv2DTranspose(
            filters,
            kernel_size,
            strides=strides,
            padding="same",
            activation=activation,
            use_bias=use_bias,
            formulation=formulation,
        )
        for formulation in (kind, "transposed")
    ]


def test_phase_taps_of_the_conv_decoder_layer():
    # 3x3 stride 2 "same": y[2m] = x[m] w[0] + x[m-1] w[2], y[2m+1] = x[m] w[1].
    taps, low, high = sub_pixel.phase_taps(3, 2)
    assert taps == [[(0, 0), (-1, 2)], [(0, 1)]]
    assert (low, high) == (-1, 0)
    # 4x4 stride 2 (dcgan): two taps per phase, offsets -1..1.
    taps, low, high = sub_pixel.phase_taps(4, 2)
    assert taps == [[(0, 1), (-1, 3)], [(1, 0), (0, 2)]]
    assert (low, high) == (-1, 1)


@pytest.mark.parametrize("kernel_size, strides, channels, filters, side", CASES)
def test_sub_pixel_equals_the_transposed_convolution(
    kernel_size, strides, channels, filters, side
):
    fast, plain = _pair("sub_pixel", kernel_size, strides, filters)
    x = np.random.default_rng(0).normal(size=(2, side, side + 1, channels))
    x = x.astype("float32")
    plain(x)
    fast(x)
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=w.shape).astype("float32") for w in plain.weights]
    plain.set_weights(weights)
    fast.set_weights(weights)
    expected = ops.convert_to_numpy(plain(x))
    got = ops.convert_to_numpy(fast(x))
    assert got.shape == expected.shape
    assert expected.std() > 0.1  # not all clipped by the ReLU
    np.testing.assert_allclose(got, expected, atol=2e-5, rtol=1e-5)
    # Keras's compute_output_shape still describes the sub-pixel output.
    assert tuple(fast.compute_output_shape(x.shape)) == got.shape


def _one_sgd_step(layer, x, target):
    inputs = keras.Input(x.shape[1:])
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.train_on_batch(x, target)
    return [ops.convert_to_numpy(w) for w in layer.weights]


def test_gradients_match_the_transposed_convolution():
    """One SGD step moves the kernel and bias alike in both formulations."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 5, 5, 6)).astype("float32")
    target = rng.normal(size=(4, 10, 10, 3)).astype("float32")
    fast, plain = _pair("sub_pixel", 3, 2, 3, activation=None)
    start = None
    moved = []
    for layer in (fast, plain):
        layer.build(x.shape)
        if start is None:
            start = [rng.normal(size=w.shape).astype("float32") for w in layer.weights]
        layer.set_weights(start)
        moved.append(_one_sgd_step(layer, x, target))
    for got, expected, before in zip(*moved, start, strict=True):
        assert np.abs(expected - before).max() > 1e-3  # the step moved it
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "platform, expected", [("cpu", True), ("gpu", True), ("tpu", False)]
)
def test_auto_picks_the_form_by_jax_platform(monkeypatch, platform, expected):
    """Measured faster on JAX's CPU and GPU backends; TPUs are unmeasured."""
    if keras.backend.backend() != "jax":
        pytest.skip("the platform rule applies to the JAX backend")
    import jax

    monkeypatch.setattr(jax, "default_backend", lambda: platform)
    layer = SubPixelConv2DTranspose(8, 3, strides=2, padding="same")
    assert layer.uses_sub_pixel == expected


def test_auto_uses_the_sub_pixel_form_on_jax_only():
    layer = SubPixelConv2DTranspose(8, 3, strides=2, padding="same")
    assert layer.formulation == "auto"
    assert layer.uses_sub_pixel == (keras.backend.backend() == "jax")
    # Outside what the sub-pixel form covers, "auto" falls back; and it
    # keeps the transposed form where that measured faster on JAX: stride 1,
    # and few filters (the logits layers).
    valid = SubPixelConv2DTranspose(8, 3, strides=2, padding="valid")
    assert not valid.uses_sub_pixel
    assert not SubPixelConv2DTranspose(8, 3, padding="same").uses_sub_pixel
    assert not SubPixelConv2DTranspose(7, 3, strides=2, padding="same").uses_sub_pixel
    assert not SubPixelConv2DTranspose(4, 3, formulation="transposed").uses_sub_pixel


def test_errors_say_what_was_expected():
    with pytest.raises(ValueError, match="formulation.*Received: formulation='fast'"):
        SubPixelConv2DTranspose(4, 3, formulation="fast")
    with pytest.raises(ValueError, match="padding='valid'"):
        SubPixelConv2DTranspose(4, 3, strides=2, formulation="sub_pixel")
    with pytest.raises(ValueError, match="output_padding=\\(1, 1\\)"):
        SubPixelConv2DTranspose(
            4,
            3,
            strides=2,
            padding="same",
            output_padding=1,
            formulation="sub_pixel",
        )


def test_config_round_trip_keeps_the_formulation():
    layer = SubPixelConv2DTranspose(
        4, 3, strides=2, padding="same", formulation="sub_pixel", name="up"
    )
    config = layer.get_config()
    assert config["formulation"] == "sub_pixel"
    clone = SubPixelConv2DTranspose.from_config(config)
    assert clone.uses_sub_pixel
    assert clone.get_config() == config
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == "keras_vae>SubPixelConv2DTranspose"


def test_mixed_precision_computes_in_the_policy_dtype():
    fast, plain = (
        SubPixelConv2DTranspose(
            4, 3, strides=2, padding="same", formulation=f, dtype="mixed_bfloat16"
        )
        for f in ("sub_pixel", "transposed")
    )
    x = np.random.default_rng(3).normal(size=(2, 7, 7, 8)).astype("float32")
    plain(x)
    fast(x)
    fast.set_weights(plain.get_weights())
    got = fast(x)
    assert keras.backend.standardize_dtype(got.dtype) == "bfloat16"
    assert keras.backend.standardize_dtype(fast.kernel.dtype) == "float32"
    np.testing.assert_allclose(
        ops.convert_to_numpy(ops.cast(got, "float32")),
        ops.convert_to_numpy(ops.cast(plain(x), "float32")),
        atol=0.1,
        rtol=0.05,
    )


@pytest.mark.parametrize("arch", ["conv", "dcgan"])
def test_architectures_decode_alike_in_both_formulations(arch, tmp_path):
    """A saved conv/dcgan model reloads and decodes the same with the layers
    forced to the other formulation."""
    vae = keras_vae.build_vae(arch, (16, 16, 1), latent_dim=3, seed=0)
    layers = [
        layer
        for layer in vae.decoder.layers
        if isinstance(layer, SubPixelConv2DTranspose)
    ]
    assert len(layers) >= 2
    # The hidden decoder layers use the sub-pixel form on JAX; the logits
    # layer (1 channel) keeps the transposed one.
    on_jax = keras.backend.backend() == "jax"
    assert [layer.uses_sub_pixel for layer in layers] == [on_jax] * (
        len(layers) - 1
    ) + [False]
    z = np.random.default_rng(4).normal(size=(3, 3)).astype("float32")
    expected = ops.convert_to_numpy(vae.decoder(z, training=False))
    path = tmp_path / "decoder.keras"
    vae.decoder.save(path)
    config = vae.decoder.get_config()
    for layer_config in config["layers"]:
        if layer_config["class_name"] == "SubPixelConv2DTranspose":
            layer_config["config"]["formulation"] = (
                "transposed" if layers[0].uses_sub_pixel else "sub_pixel"
            )
    other = keras.Model.from_config(config)
    other.set_weights(vae.decoder.get_weights())
    got = ops.convert_to_numpy(other(z, training=False))
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        ops.convert_to_numpy(reloaded(z, training=False)), expected, atol=1e-6
    )
