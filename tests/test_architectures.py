import math

import keras
import pytest

import keras_vae

SHAPES = [(28, 28, 1), (32, 32, 3), (64, 64, 3)]


@pytest.mark.parametrize("arch", ["mlp", "conv", "dcgan"])
@pytest.mark.parametrize("shape", SHAPES)
def test_each_architecture_takes_the_tutorial_image_sizes(arch, shape):
    vae = keras_vae.build_vae(arch, shape, latent_dim=4)
    assert vae.image_shape == shape
    assert vae.latent_dim == 4
    assert tuple(vae.decoder.output_shape) == (None, *shape)
    assert [tuple(o.shape) for o in vae.encoder.outputs] == [(None, 4), (None, 4)]


def test_default_latent_sizes_follow_the_tutorials():
    sizes = {
        arch: keras_vae.build_vae(arch, (28, 28, 1)).latent_dim
        for arch in ("mlp", "conv", "dcgan")
    }
    assert sizes == {"mlp": 20, "conv": 2, "dcgan": 32}


def test_mlp_default_is_the_pytorch_examples_784_400_20():
    vae = keras_vae.build_vae("mlp", (28, 28, 1))
    dense = [
        layer.units
        for layer in vae.encoder.layers + vae.decoder.layers
        if isinstance(layer, keras.layers.Dense)
    ]
    assert dense == [400, 20, 20, 400, 784]
    # 784*400+400 + 2*(400*20+20) encoder; 20*400+400 + 400*784+784 decoder.
    assert vae.count_params() - 1 == (
        784 * 400 + 400 + 2 * (400 * 20 + 20) + 20 * 400 + 400 + 400 * 784 + 784
    )  # minus the non-trainable kl_weight


def test_mlp_encoder_units_set_the_encoder_apart_from_the_decoder():
    vae = keras_vae.build_vae(
        "mlp", (28, 28, 1), 5, hidden_units=(32, 16), encoder_units=(8,)
    )

    def units(model):
        return [
            layer.units
            for layer in model.layers
            if isinstance(layer, keras.layers.Dense)
        ]

    assert units(vae.encoder) == [8, 5, 5]
    assert units(vae.decoder) == [16, 32, 784]
    z_mean, _ = vae.encoder(keras.ops.zeros((2, 28, 28, 1)))
    assert tuple(vae.decoder(z_mean).shape) == (2, 28, 28, 1)


def test_conv_default_is_the_keras_io_example():
    vae = keras_vae.build_vae("conv", (28, 28, 1), latent_dim=2)
    convs = [
        (layer.filters, layer.strides)
        for layer in vae.encoder.layers
        if isinstance(layer, keras.layers.Conv2D)
    ]
    assert convs == [(32, (2, 2)), (64, (2, 2))]
    assert vae.encoder.get_layer("encoder_dense").units == 16
    deconvs = [
        layer.filters
        for layer in vae.decoder.layers
        if isinstance(layer, keras.layers.Conv2DTranspose)
    ]
    assert deconvs == [64, 32, 1]


def test_dcgan_uses_batchnorm_and_leaky_relu_blocks():
    vae = keras_vae.build_vae("dcgan", (64, 64, 3))
    kinds = [type(layer).__name__ for layer in vae.encoder.layers]
    assert kinds.count("Conv2D") == 4
    assert kinds.count("BatchNormalization") == 3  # none after the first conv
    leaky = [x for x in vae.encoder.layers if isinstance(x, keras.layers.LeakyReLU)]
    assert len(leaky) == 4 and all(math.isclose(x.negative_slope, 0.2) for x in leaky)
    decoder_kinds = [type(layer).__name__ for layer in vae.decoder.layers]
    assert decoder_kinds.count("SubPixelConv2DTranspose") == 4
    assert decoder_kinds.count("ReLU") == 4
    assert vae.latent_dim == 32


@pytest.mark.parametrize(
    "arch, shape, options, message",
    [
        ("conv", (30, 30, 1), {}, "multiples of 4.*input_shape=\\(30, 30, 1\\)"),
        ("conv", (28, 28, 1), {"filters": (8, 8, 8)}, "multiples of 8"),
        ("dcgan", (8, 8, 1), {}, "at least 2 stride-2 blocks.*num_blocks=2"),
        ("dcgan", (30, 30, 3), {"num_blocks": 2}, "multiples of 4"),
        ("mlp", (28, 28), {}, "input_shape.*Received: input_shape=\\(28, 28\\)"),
        ("mlp", (28, 0, 1), {}, "positive ints"),
        ("mlp", (28, 28, 1), {"hidden_units": ()}, "hidden_units"),
        (
            "mlp",
            (28, 28, 1),
            {"encoder_units": (8, 0)},
            "encoder_units.*Received: encoder_units=\\(8, 0\\)",
        ),
        ("mlp", (28, 28, 1), {"filters": (4,)}, "Unknown option.*filters"),
        ("gan", (28, 28, 1), {}, "\\['mlp', 'conv', 'dcgan'\\].*arch='gan'"),
    ],
)
def test_shapes_and_options_an_architecture_cannot_take(arch, shape, options, message):
    with pytest.raises(ValueError, match=message):
        keras_vae.build_vae(arch, shape, 2, **options)


@pytest.mark.parametrize("latent_dim", [0, -3, 2.5, "2"])
def test_bad_latent_sizes_are_refused(latent_dim):
    with pytest.raises(ValueError, match="latent_dim.*Received: latent_dim="):
        keras_vae.build_vae("mlp", (28, 28, 1), latent_dim)
