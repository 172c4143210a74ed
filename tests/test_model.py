import keras
import numpy as np
import pytest
from conftest import dataset
from conftest import tiny_vae

import keras_vae


def test_loss_is_reconstruction_plus_beta_times_kl(images):
    vae = tiny_vae(beta=0.5)
    vae.compile()
    logs = vae.evaluate(dataset(images), return_dict=True, verbose=0)
    assert set(logs) == {"loss", "reconstruction", "kl"}
    assert logs["kl"] > 0
    assert logs["loss"] == pytest.approx(
        logs["reconstruction"] + 0.5 * logs["kl"], rel=1e-5
    )


def test_one_epoch_of_fit_decreases_the_loss(images):
    vae = tiny_vae()
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = vae.evaluate(images, batch_size=64, return_dict=True, verbose=0)
    history = vae.fit(dataset(images), epochs=1, verbose=0)
    after = vae.evaluate(images, batch_size=64, return_dict=True, verbose=0)
    assert set(history.history) == {"loss", "reconstruction", "kl"}
    assert after["loss"] < before["loss"] - 1.0


def test_fit_reports_validation_metrics(images):
    vae = tiny_vae()
    vae.compile()
    history = vae.fit(
        dataset(images[:192]),
        validation_data=dataset(images[192:]),
        epochs=2,
        verbose=0,
    )
    for key in ("val_loss", "val_reconstruction", "val_kl"):
        assert len(history.history[key]) == 2
        assert np.isfinite(history.history[key]).all()


def test_an_ema_optimizer_leaves_usable_weights_after_fit(images, tmp_path):
    # Keras assigns the moving averages to the weights as `fit` ends; on JAX
    # the next compiled call used to delete the array both then shared.
    vae = tiny_vae()
    vae.compile(optimizer=keras.optimizers.Adam(1e-2, use_ema=True))
    vae.fit(dataset(images), epochs=1, verbose=0)
    averages = [np.array(v) for v in vae.optimizer._model_variables_moving_average]
    vae.evaluate(images, batch_size=64, verbose=0)
    vae.fit(dataset(images), epochs=1, verbose=0)
    vae.save(str(tmp_path / "vae.keras"))
    assert all(np.isfinite(v).all() for v in averages)


def test_datasets_with_labels_train_like_unlabelled_ones(images):
    labels = np.arange(len(images)) % 10
    vae = tiny_vae()
    vae.compile()
    history = vae.fit(dataset(images, labels=labels), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_free_bits_raise_the_optimised_kl_but_not_the_reported_one(images):
    vae = tiny_vae(free_bits=2.0)
    vae.compile()
    logs = vae.evaluate(images, batch_size=256, return_dict=True, verbose=0)
    # At initialisation each of the 3 dimensions has a KL far below 2 nats.
    assert logs["kl"] < 3 * 2.0
    assert logs["loss"] == pytest.approx(logs["reconstruction"] + 3 * 2.0, rel=1e-5)


def test_convenience_methods_give_images_in_range(images):
    vae = tiny_vae()
    mean, log_var = vae.encode(images[:5])
    assert mean.shape == log_var.shape == (5, 3)
    assert mean.dtype == np.float32
    for out in (vae.decode(mean), vae.sample(5, seed=1), vae.reconstruct(images[:5])):
        assert out.shape == (5, 8, 8, 1)
        assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(vae.sample(4, seed=3), vae.sample(4, seed=3))
    assert not np.allclose(vae.sample(4, seed=3), vae.sample(4, seed=4))
    # The deterministic reconstruction is the decode of the posterior mean.
    np.testing.assert_allclose(vae.reconstruct(images[:5]), vae.decode(mean), atol=1e-6)
    assert not np.allclose(vae.reconstruct(images[:5], sample=True), vae.decode(mean))


def test_methods_take_backend_tensors(images):
    vae = tiny_vae()
    x = keras.ops.convert_to_tensor(images[:3])
    mean, _ = vae.encode(x)
    np.testing.assert_allclose(mean, vae.encode(images[:3])[0], atol=1e-6)
    z = keras.ops.convert_to_tensor(mean)
    np.testing.assert_allclose(vae.decode(z), vae.decode(mean), atol=1e-6)
    bf16 = keras.ops.cast(x, "bfloat16")
    assert vae.encode(bf16)[0].shape == (3, 3)


BAD_IMAGES = [
    (np.zeros((8, 8, 1), "float32"), r"rank 4.*shape=\(8, 8, 1\)"),
    (np.zeros((2, 8, 8, 3), "float32"), r"\(None, 8, 8, 1\).*shape=\(2, 8, 8, 3\)"),
    (np.zeros((2, 9, 8, 1), "float32"), r"\(None, 8, 8, 1\).*shape=\(2, 9, 8, 1\)"),
    (np.zeros((0, 8, 8, 1), "float32"), "at least one image"),
    (np.zeros((2, 8, 8, 1), "uint8"), r"floating dtype.*dtype=uint8.*x / 255"),
    (
        np.full((2, 8, 8, 1), np.nan, "float32"),
        "finite in float32.*128 NaN, Inf or out-of-range",
    ),
    (np.full((2, 8, 8, 1), np.inf, "float32"), "finite"),
    (np.full((2, 8, 8, 1), 255.0, "float32"), r"\[0, 1\].*\[255, 255\]"),
    (np.full((2, 8, 8, 1), -0.5, "float32"), r"\[0, 1\].*\[-0.5, -0.5\]"),
    (np.array([["a"]]), "rank 4"),
]


@pytest.mark.parametrize("bad, message", BAD_IMAGES)
def test_bad_images_are_refused_before_compute(bad, message):
    vae = tiny_vae()
    vae.compile()
    for method in (vae.encode, vae.reconstruct, vae.fit, vae.evaluate):
        with pytest.raises(ValueError, match=message):
            method(bad)


def test_gaussian_likelihood_takes_any_finite_range():
    vae = tiny_vae(likelihood="gaussian")
    mean, _ = vae.encode(np.full((2, 8, 8, 1), 3.0, "float32"))
    assert mean.shape == (2, 3)


@pytest.mark.parametrize(
    "z, message",
    [
        (np.zeros((2, 4), "float32"), r"\(None, 3\).*shape=\(2, 4\)"),
        (np.zeros((3,), "float32"), r"\(None, 3\).*shape=\(3,\)"),
        (np.zeros((0, 3), "float32"), "at least one code"),
        (np.zeros((2, 3), "int32"), "floating dtype.*int32"),
        (np.full((2, 3), np.nan, "float32"), "finite"),
    ],
)
def test_bad_latent_codes_are_refused(z, message):
    with pytest.raises(ValueError, match=message):
        tiny_vae().decode(z)


@pytest.mark.parametrize("num", [0, -1, 2.5, "3", True])
def test_sample_needs_a_positive_count(num):
    with pytest.raises(ValueError, match="positive int.*Received: num="):
        tiny_vae().sample(num)


def test_symbolic_shape_errors_surface_at_the_first_fit_step():
    vae = tiny_vae()
    vae.compile()
    wrong = dataset(np.zeros((8, 8, 8, 3), "float32"))
    with pytest.raises(ValueError, match=r"\(None, 8, 8, 1\)"):
        vae.fit(wrong, epochs=1, verbose=0)
    integers = dataset(np.zeros((8, 8, 8, 1), "uint8"))
    with pytest.raises(ValueError, match="floating dtype.*uint8"):
        vae.fit(integers, epochs=1, verbose=0)


def test_compile_refuses_a_loss_and_defaults_to_adam():
    vae = tiny_vae()
    with pytest.raises(ValueError, match="own loss.*Received: loss='mse'"):
        vae.compile(loss="mse")
    vae.compile()
    assert isinstance(vae.optimizer, keras.optimizers.Adam)
    assert float(vae.optimizer.learning_rate) == pytest.approx(1e-3)


def test_sample_weights_are_refused(images):
    vae = tiny_vae()
    vae.compile()
    weighted = dataset(images, labels=np.ones(len(images))).map(lambda x, y: (x, y, y))
    with pytest.raises(ValueError, match="sample weights"):
        vae.fit(weighted, epochs=1, verbose=0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"beta": -1.0}, "beta.*Received: beta=-1.0"),
        ({"beta": "1"}, "beta.*Received: beta='1'"),
        ({"free_bits": -0.1}, "free_bits.*Received: free_bits=-0.1"),
        ({"likelihood": "laplace"}, "Expected one of.*Received: likelihood='laplace'"),
    ],
)
def test_bad_model_arguments_are_refused(kwargs, message):
    encoder, decoder = tiny_vae().encoder, tiny_vae().decoder
    with pytest.raises(ValueError, match=message):
        keras_vae.VAE(encoder, decoder, **kwargs)


def test_mismatched_encoder_and_decoder_are_refused():
    small, large = tiny_vae(), tiny_vae(input_shape=(16, 16, 1))
    with pytest.raises(ValueError, match="decoder.*encoder's input shape"):
        keras_vae.VAE(small.encoder, large.decoder)
    other_latent = tiny_vae(latent_dim=5)
    with pytest.raises(ValueError, match=r"latent codes of shape \(None, 3\)"):
        keras_vae.VAE(small.encoder, other_latent.decoder)
    with pytest.raises(ValueError, match="`encoder` must be a keras.Model"):
        keras_vae.VAE("encoder", small.decoder)
