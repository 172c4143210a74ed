import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import dataset
from conftest import tiny_vae
from training_helpers import files_under

from keras_vae import priors
from keras_vae import safe_loading
from keras_vae.export import export
from keras_vae.export import publish
from keras_vae.safe_loading import sha256_of

RNG = np.random.default_rng(0)
Z = RNG.normal(size=(5, 3)).astype("float32")
X = RNG.random((4, 8, 8, 1)).astype("float32")


def _train_tiny(arch):
    """A tiny VAE of `arch` trained one epoch (two steps) on this backend."""
    keras.utils.set_random_seed(0)
    vae = tiny_vae(arch)
    vae.compile()
    images = (np.random.default_rng(1).random((32, 8, 8, 1)) > 0.5).astype("float32")
    vae.fit(dataset(images, 16), epochs=1, verbose=0)
    return vae


def _onnx_decode(result, z):
    import onnxruntime

    session = onnxruntime.InferenceSession(
        os.path.join(result["files"], "decoder.onnx")
    )
    assert [i.name for i in session.get_inputs()] == ["z"]
    (images,) = session.run(None, {"z": z})
    return images


@pytest.fixture(scope="module")
def trained():
    """A conv VAE trained on the current backend."""
    return _train_tiny("conv")


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    return root, export(trained, str(root / "saved_models"), "tiny")


def test_layout_and_tf_serving_config(exported):
    root, result = exported
    export_dir = str(root / "saved_models")
    assert result["version"] == 1
    layout = files_under(export_dir)
    for base in ("tiny_decoder/1", "tiny_encoder/1"):
        assert f"{base}/saved_model.pb" in layout
        assert any(f.startswith(f"{base}/variables/") for f in layout)
    for name in (
        "vae.keras",
        "encoder.keras",
        "decoder.keras",
        "decoder.onnx",
        "manifest.json",
    ):
        assert f"tiny/1/{name}" in layout
    assert not any("tmp" in f for f in layout)
    with open(os.path.join(export_dir, "models.config")) as f:
        config = f.read()
    for name in ("tiny_decoder", "tiny_encoder"):
        assert f'name: "{name}"\n    base_path: "{export_dir}/{name}"' in config
    assert config.count("config {") == 2


def test_decoder_signatures_match_the_keras_decoder(exported, trained):
    _, result = exported
    decoder = tf.saved_model.load(result["decoder"])
    assert sorted(decoder.signatures) == ["generate", "serving_default"]
    serve = decoder.signatures["serving_default"]
    spec = serve.structured_input_signature[1]["z"]
    assert (spec.shape.as_list(), spec.dtype) == ([None, 3], tf.float32)
    out = serve.structured_outputs["images"]
    assert (out.shape.as_list(), out.dtype) == ([None, 8, 8, 1], tf.float32)
    images = serve(z=tf.constant(Z))["images"].numpy()
    np.testing.assert_allclose(images, trained.decode(Z), atol=1e-5)
    generate = decoder.signatures["generate"]
    first = generate(count=tf.constant(6), seed=tf.constant(3))["images"].numpy()
    again = generate(count=tf.constant(6), seed=tf.constant(3))["images"].numpy()
    assert first.shape == (6, 8, 8, 1) and 0 <= first.min() and first.max() <= 1
    np.testing.assert_array_equal(first, again)
    with pytest.raises(tf.errors.InvalidArgumentError, match="z must be finite"):
        serve(z=tf.constant(np.full((1, 3), np.nan, "float32")))
    with pytest.raises(tf.errors.InvalidArgumentError, match="count must be >= 1"):
        generate(count=tf.constant(0), seed=tf.constant(0))


def test_generate_draws_from_a_vamp_prior(tmp_path):
    keras.utils.set_random_seed(0)
    vae = tiny_vae("mlp", prior=priors.VampPrior(4, pseudo_input_stddev=0.5))
    vae.compile()
    images = (np.random.default_rng(1).random((32, 8, 8, 1)) > 0.5).astype("float32")
    vae.fit(dataset(images, 16), epochs=1, verbose=0)
    result = export(vae, str(tmp_path / "saved_models"), "vamp")
    generate = tf.saved_model.load(result["decoder"]).signatures["generate"]
    got = generate(count=tf.constant(40), seed=tf.constant(2))["images"].numpy()
    # The same draws by hand, from the model's own mixture components.
    means, log_vars = vae.prior_components()
    eps = tf.random.stateless_normal([40, 3], seed=[2, 0]).numpy()
    which = tf.random.stateless_uniform(
        [40], seed=[2, 1], minval=0, maxval=4, dtype=tf.int32
    ).numpy()
    assert len(set(which.tolist())) == 4
    z = means[which] + np.exp(0.5 * log_vars[which]) * eps
    np.testing.assert_allclose(got, vae.decode(z), atol=1e-5)
    # Not the N(0, I) draws: the exported prior is the VampPrior.
    assert np.abs(got - vae.decode(eps)).max() > 1e-3


def test_encoder_signatures_match_the_keras_encoder(exported, trained):
    _, result = exported
    encoder = tf.saved_model.load(result["encoder"])
    assert sorted(encoder.signatures) == ["serving_default", "serving_uint8"]
    mean, log_var = trained.encode(X)
    out = encoder.signatures["serving_default"](images=tf.constant(X))
    np.testing.assert_allclose(out["mean"].numpy(), mean, atol=1e-5)
    np.testing.assert_allclose(out["log_var"].numpy(), log_var, atol=1e-5)
    pixels = (X * 255).round().astype("uint8")
    from_uint8 = encoder.signatures["serving_uint8"](pixels=tf.constant(pixels))
    np.testing.assert_allclose(
        from_uint8["mean"].numpy(), trained.encode(pixels / 255.0)[0], atol=1e-5
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"in \[0, 1\]"):
        encoder.signatures["serving_default"](images=tf.fill([1, 8, 8, 1], 2.0))


def test_onnx_decoder_matches_under_onnxruntime(exported, trained):
    _, result = exported
    np.testing.assert_allclose(_onnx_decode(result, Z), trained.decode(Z), atol=1e-5)


def test_manifest_hashes_every_file_and_keras_files_load(exported, trained):
    root, result = exported
    export_dir = str(root / "saved_models")
    with open(result["manifest"]) as f:
        manifest = json.load(f)
    assert (manifest["latent_dim"], manifest["image_shape"]) == (3, [8, 8, 1])
    assert manifest["likelihood"] == "Bernoulli" and manifest["version"] == 1
    assert manifest["keras_version"] == keras.__version__
    published = [
        f
        for f in files_under(export_dir)
        if f.startswith(("tiny/1/", "tiny_decoder/1/", "tiny_encoder/1/"))
        and f != "tiny/1/manifest.json"
    ]
    assert sorted(manifest["sha256"]) == sorted(published)
    for name, digest in manifest["sha256"].items():
        assert sha256_of(os.path.join(export_dir, name)) == digest
    vae = safe_loading.load_model(
        os.path.join(result["files"], "vae.keras"),
        sha256=manifest["sha256"]["tiny/1/vae.keras"],
    )
    np.testing.assert_allclose(vae.encode(X)[0], trained.encode(X)[0], atol=1e-6)


def test_versions_are_never_overwritten_and_crashes_leave_no_partial_version(
    tmp_path, trained
):
    export_dir = str(tmp_path / "models")
    assert export(trained, export_dir, "m", onnx=False)["version"] == 1
    assert export(trained, export_dir, "m", onnx=False)["version"] == 2
    with pytest.raises(ValueError, match="Version 2 .*never overwritten"):
        export(trained, export_dir, "m", version=2, onnx=False)
    before = files_under(export_dir)

    def crash(folder):
        os.makedirs(folder)
        with open(os.path.join(folder, "saved_model.pb"), "wb") as f:
            f.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        publish.publish(os.path.join(export_dir, "m_decoder"), 3, crash)
    assert files_under(export_dir) == before  # nothing numeric, nothing temporary
    assert publish.versions(os.path.join(export_dir, "m_decoder")) == [1, 2]


def test_export_from_a_keras_file(tmp_path, trained):
    path = str(tmp_path / "vae.keras")
    trained.save(path)
    result = export(path, str(tmp_path / "out"), "fromfile", onnx=False)
    decoder = tf.saved_model.load(result["decoder"])
    images = decoder.signatures["serving_default"](z=tf.constant(Z))["images"]
    np.testing.assert_allclose(images.numpy(), trained.decode(Z), atol=1e-5)


def test_export_refuses_a_bad_model_file(tmp_path):
    path = tmp_path / "vae.keras"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        export(str(path), str(tmp_path / "out"), "bad", onnx=False)


def test_dcgan_batch_norm_serves_its_moving_statistics(tmp_path):
    """The DCGAN decoder's BatchNormalization (the backend's fused kernel on
    TensorFlow and PyTorch) exports in inference mode: TF Serving's SavedModel
    and the ONNX file decode as the Keras model does."""
    vae = _train_tiny("dcgan")
    norms = [
        layer
        for layer in vae.decoder.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert norms and not np.allclose(norms[0].moving_variance.numpy(), 1.0)
    result = export(vae, str(tmp_path / "saved_models"), "tiny")
    expected = vae.decode(Z)
    serve = tf.saved_model.load(result["decoder"]).signatures["serving_default"]
    np.testing.assert_allclose(serve(z=tf.constant(Z))["images"], expected, atol=1e-5)
    np.testing.assert_allclose(_onnx_decode(result, Z), expected, atol=1e-5)
