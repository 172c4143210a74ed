import os
import warnings

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image
from test_data_idx import write_idx

from keras_vae import data
from keras_vae.data import loading

FMNIST = "/usr/share/datasets/fashion-mnist"
# Tests that read the Debian files; skipped where they are not installed.
needs_fashion_mnist = pytest.mark.skipif(
    not os.path.isdir(FMNIST), reason="dataset-fashion-mnist not installed"
)


def make_idx_dir(root, n_train=40, n_test=10, size=8, labels=True):
    rng = np.random.default_rng(0)
    os.makedirs(root, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, size, size), dtype="uint8")
        write_idx(os.path.join(root, f"{prefix}-images-idx3-ubyte.gz"), images)
        if labels:
            ids = np.arange(n, dtype="uint8")  # unique ids to trace examples
            write_idx(os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz"), ids)
    return str(root)


def make_folder(
    root,
    count=12,
    size=(8, 8),
    mode="L",
    classes=("cat", "dog"),
    formats=("png", "jpeg", "bmp", "gif"),
):
    rng = np.random.default_rng(1)
    for i in range(count):
        folder = os.path.join(root, classes[i % len(classes)]) if classes else root
        os.makedirs(folder, exist_ok=True)
        shape = (*size, 3) if mode == "RGB" else size
        pixels = rng.integers(0, 256, shape, dtype="uint8")
        fmt = formats[i % len(formats)]
        Image.fromarray(pixels, mode).save(os.path.join(folder, f"{i:03d}.{fmt}"))
    return str(root)


def collect(ds):
    batches = list(ds.as_numpy_iterator())
    if isinstance(batches[0], tuple):
        return (
            np.concatenate([b[0] for b in batches]),
            np.concatenate([b[1] for b in batches]),
        )
    return np.concatenate(batches)


def snapshot(root):
    return sorted(
        (os.path.join(d, f), os.path.getmtime(os.path.join(d, f)))
        for d, _, files in os.walk(root)
        for f in files
    )


def test_idx_directory_gives_float_batches_in_unit_range(tmp_path):
    root = make_idx_dir(tmp_path / "digits")
    before = snapshot(root)
    ds = data.load(f"idx:{root}", batch_size=16)
    assert ds.element_spec.shape.as_list() == [None, 8, 8, 1]
    assert ds.element_spec.dtype == tf.float32
    x = collect(ds)
    assert x.shape == (40, 8, 8, 1) and 0.0 <= x.min() and x.max() <= 1.0
    assert len(collect(data.load(f"idx:{root}", "test"))) == 10
    assert snapshot(root) == before  # nothing written into the user's data


def test_validation_carve_out_is_disjoint_and_deterministic(tmp_path):
    root = make_idx_dir(tmp_path / "digits", n_train=50)
    spec = f"idx:{root}"
    _, train_ids = collect(data.load(spec, with_labels=True, validation_fraction=0.2))
    _, val_ids = collect(
        data.load(spec, "validation", with_labels=True, validation_fraction=0.2)
    )
    assert sorted(val_ids) == list(range(40, 50))
    assert sorted(train_ids) == list(range(40))
    with pytest.raises(data.DataError, match="validation_fraction"):
        data.load(spec, "validation")


def test_shuffle_is_seeded_and_changes_every_epoch(tmp_path):
    spec = f"idx:{make_idx_dir(tmp_path / 'd', n_train=64)}"
    first = data.load(spec, with_labels=True, seed=3, batch_size=64)
    second = data.load(spec, with_labels=True, seed=3, batch_size=64)
    epoch_a = collect(first)[1]
    np.testing.assert_array_equal(epoch_a, collect(second)[1])
    assert not np.array_equal(epoch_a, collect(first)[1])  # next epoch
    assert sorted(epoch_a) == list(range(64))
    ordered = collect(data.load(spec, "test", with_labels=True))[1]
    assert list(ordered) == list(range(10))  # test is not shuffled


def test_in_memory_batches_are_gathered_whole_and_aligned(tmp_path):
    # Arrays in memory are batched by gathering a per-epoch permutation
    # (pipeline.batch_rows): every example once per epoch, a short last
    # batch, and each image still paired with its own label.
    spec = f"idx:{make_idx_dir(tmp_path / 'd', n_train=40)}"
    ordered_x, ordered_ids = collect(data.load(spec, with_labels=True, shuffle=False))
    assert list(ordered_ids) == list(range(40))
    shuffled = data.load(spec, with_labels=True, seed=1, batch_size=7)
    assert [len(b[0]) for b in shuffled] == [7] * 5 + [5]
    assert int(shuffled.cardinality()) == 6
    orders = []
    for _ in range(2):
        x, ids = collect(shuffled)
        assert sorted(ids) == list(range(40))
        np.testing.assert_array_equal(x[np.argsort(ids)], ordered_x)
        orders.append(ids)
    assert not np.array_equal(*orders)


def test_binarization_modes(tmp_path):
    spec = f"idx:{make_idx_dir(tmp_path / 'd', n_train=64)}"
    grey = collect(data.load(spec, shuffle=False))
    dynamic = data.load(spec, binarize="dynamic", seed=5, shuffle=False)
    epoch1, epoch2 = collect(dynamic), collect(dynamic)
    assert set(np.unique(epoch1)) <= {0.0, 1.0}
    assert not np.array_equal(epoch1, epoch2)  # resampled every epoch
    again = collect(data.load(spec, binarize="dynamic", seed=5, shuffle=False))
    np.testing.assert_array_equal(epoch1, again)  # reproducible from the seed
    # Bernoulli(p) samples average to p.
    assert abs(epoch1.mean() - grey.mean()) < 0.02
    static = data.load(spec, binarize="static", seed=5, with_labels=True)
    (a, ids_a), (b, ids_b) = collect(static), collect(static)
    np.testing.assert_array_equal(a[np.argsort(ids_a)], b[np.argsort(ids_b)])
    assert set(np.unique(a)) <= {0.0, 1.0}
    threshold = collect(data.load(spec, binarize="threshold", shuffle=False))
    np.testing.assert_array_equal(threshold, (grey > 0.5).astype("float32"))


def test_resize_channels_and_max_examples(tmp_path):
    spec = f"idx:{make_idx_dir(tmp_path / 'd')}"
    x = collect(data.load(spec, image_size=16, channels=3, max_examples=7))
    assert x.shape == (7, 16, 16, 3)
    np.testing.assert_allclose(x[..., 0], x[..., 2])


@pytest.mark.parametrize("layout", ["x", "x_train"])
def test_npz_files(tmp_path, layout):
    path = str(tmp_path / "faces.npz")
    rng = np.random.default_rng(0)
    images = rng.random((12, 8, 8, 3)).astype("float32")
    arrays = {layout: images, layout.replace("x", "y"): np.arange(12)}
    if layout == "x_train":
        arrays["x_test"] = images[:4]
    np.savez(path, **arrays)
    x, y = collect(data.load(f"npz:{path}", with_labels=True, shuffle=False))
    np.testing.assert_allclose(x, images)
    assert list(y) == list(range(12))
    if layout == "x_train":
        assert len(collect(data.load(f"npz:{path}", "test"))) == 4


def test_npz_is_loaded_without_pickle(tmp_path):
    path = str(tmp_path / "objects.npz")
    np.savez(path, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(data.DataError, match="npz"):
        data.load(f"npz:{path}")


def test_folder_with_class_subfolders_and_every_format(tmp_path):
    root = make_folder(tmp_path / "pets")
    before = snapshot(root)
    # Palette GIF/BMP files decode as RGB; their content is gray, so 1 channel.
    x, y = collect(data.load(f"folder:{root}", with_labels=True, shuffle=False))
    assert x.shape == (12, 8, 8, 1)
    assert list(y) == [0] * 6 + [1] * 6  # cat/, then dog/ (sorted folders)
    assert snapshot(root) == before
    rgb = collect(data.load(f"folder:{root}", channels=3, image_size=(16, 12)))
    assert rgb.shape == (12, 16, 12, 3)


def test_color_folder_infers_three_channels_and_converts_to_gray(tmp_path):
    root = make_folder(tmp_path / "birds", mode="RGB", formats=("png", "bmp", "gif"))
    color = collect(data.load(f"folder:{root}", shuffle=False))
    assert color.shape == (12, 8, 8, 3)
    gray = collect(data.load(f"folder:{root}", channels=1, shuffle=False))
    assert gray.shape == (12, 8, 8, 1)
    weights = np.array([0.2989, 0.587, 0.114], "float32")
    np.testing.assert_allclose(gray[..., 0], color @ weights, atol=1 / 255 + 1e-3)


def test_rgb_folder_without_classes_streams_without_cache(tmp_path):
    root = make_folder(tmp_path / "birds", mode="RGB", classes=(), formats=("jpeg",))
    x = collect(data.load(f"folder:{root}", cache=False, image_size=4))
    assert x.shape == (12, 4, 4, 3)
    with pytest.raises(data.DataError, match="no labels"):
        data.load(f"folder:{root}", with_labels=True)


def test_bad_files_are_named_or_skipped_with_a_warning(tmp_path):
    root = make_folder(tmp_path / "pets", formats=("png",))
    bad = os.path.join(root, "cat", "broken.png")
    with open(bad, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n not really")
    notes = os.path.join(root, "dog", "notes.txt")
    with open(notes, "w") as f:
        f.write("hello")
    with pytest.raises(data.DataError, match="2 file.*broken.png.*notes.txt.*skip"):
        data.load(f"folder:{root}")
    with pytest.warns(UserWarning, match="skipping 2 unreadable.*broken.png"):
        ds = data.load(f"folder:{root}", on_bad_file="skip", with_labels=True)
    x, y = collect(ds)
    assert len(x) == len(y) == 12


def test_mixed_sizes_need_an_image_size(tmp_path):
    root = make_folder(tmp_path / "a", count=4, formats=("png",), classes=())
    Image.fromarray(np.zeros((10, 6), "uint8"), "L").save(os.path.join(root, "odd.png"))
    with pytest.raises(data.DataError, match=r"2 different sizes.*odd.png.*image_size"):
        data.load(f"folder:{root}")
    assert collect(data.load(f"folder:{root}", image_size=8)).shape == (5, 8, 8, 1)


def test_tfds_specs_through_mock_data():
    with tfds.testing.mock_data(num_examples=20):
        x, y = collect(data.load("tfds:mnist", batch_size=8, with_labels=True))
        assert x.shape == (20, 28, 28, 1) and y.dtype == np.int64
        resized = collect(
            data.load("tfds:mnist", "test", image_size=14, max_examples=6)
        )
        assert resized.shape == (6, 14, 14, 1)
        assert 0.0 <= resized.min() and resized.max() <= 1.0


def test_tfds_split_strings():
    from keras_vae.data.splits import parse_split
    from keras_vae.data.tfds_source import tfds_split

    def read(split, fraction=0.0, available=("train", "test")):
        return tfds_split("s", parse_split(split), fraction, available)

    assert read("train") == "train"
    assert read("train", 0.1) == "train[:90%]"
    assert read("validation", 0.1) == "train[90%:]"
    assert read("train[:50%]", 0.1) == "train[:50%]"
    assert read("validation", 0.0, ("train", "validation")) == "validation"
    with pytest.raises(data.DataError, match="no 'validation' split"):
        read("validation")
    with pytest.raises(data.DataError, match="whole-percent"):
        read("validation", 0.125)


def test_named_data_falls_back_to_tfds_then_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_VAE_DATA_DIR", str(tmp_path / "nothing"))
    monkeypatch.setattr(loading, "DEBIAN_DIRS", {})
    with tfds.testing.mock_data(num_examples=5):
        assert collect(data.load("fashion_mnist")).shape == (5, 28, 28, 1)

    def offline(*args, **kwargs):
        raise data.DataError("tfds:fashion_mnist", "download failed")

    monkeypatch.setattr(loading.tfds_source, "tfds_examples", offline)
    with pytest.raises(
        data.DataError,
        match="apt-get install dataset-fashion-mnist.*"
        "KERAS_VAE_DATA_DIR/fashion_mnist.*TFDS",
    ):
        data.load("fashion_mnist")


def test_named_data_prefers_keras_vae_data_dir(monkeypatch, tmp_path):
    make_idx_dir(tmp_path / "mnist", n_train=9, size=4)
    monkeypatch.setenv("KERAS_VAE_DATA_DIR", str(tmp_path))
    assert collect(data.load("mnist")).shape == (9, 4, 4, 1)


@needs_fashion_mnist
def test_real_fashion_mnist_files(monkeypatch):
    monkeypatch.delenv("KERAS_VAE_DATA_DIR", raising=False)
    train = data.load("fashion_mnist", batch_size=1000, with_labels=True)
    count, labels = 0, set()
    for x, y in train:
        count += len(x)
        labels.update(np.unique(y.numpy()).tolist())
    assert count == 60_000 and labels == set(range(10))
    assert tuple(x.shape[1:]) == (28, 28, 1)
    test = collect(data.load("fashion_mnist", "test", batch_size=1000))
    assert test.shape == (10_000, 28, 28, 1)
    assert 0.0 <= test.min() and test.max() == 1.0


@pytest.mark.parametrize(
    "spec, kwargs, message",
    [
        ("parquet:/x", {}, "unknown spec.*'tfds:', 'idx:', 'folder:', 'npz:'"),
        ("idx:", {}, "unknown spec"),
        ("idx:/does/not/exist", {}, "directory not found: /does/not/exist"),
        ("folder:/does/not/exist", {}, "directory not found"),
        ("npz:/does/not/exist.npz", {}, "file not found"),
        ("mnist", {"split": "dev"}, "unknown split 'dev'"),
        ("mnist", {"binarize": "always"}, "binarize must be one of"),
        ("mnist", {"batch_size": 0}, "batch_size must be an int >= 1"),
        ("mnist", {"image_size": (0, 3)}, "image_size must be"),
        ("mnist", {"validation_fraction": 1.0}, "validation_fraction must be in"),
        ("mnist", {"channels": 2}, "channels must be"),
        ("mnist", {"on_bad_file": "ignore"}, "on_bad_file must be one of"),
        ("mnist", {"max_examples": 0}, "max_examples must be"),
    ],
)
def test_bad_specs_and_arguments_name_the_spec(spec, kwargs, message):
    with pytest.raises(data.DataError, match=f"Data spec '{spec}'.*{message}"):
        data.load(spec, **kwargs)


def test_idx_directory_with_a_truncated_file(tmp_path):
    root = make_idx_dir(tmp_path / "d")
    path = os.path.join(root, "train-images-idx3-ubyte.gz")
    import gzip

    with gzip.open(path, "rb") as f:
        body = f.read()
    with gzip.open(path, "wb") as f:
        f.write(body[:-5])
    with pytest.raises(data.DataError, match="truncated"):
        data.load(f"idx:{root}")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert os.path.exists(path)


def _has_cache(ds):
    return b"CacheDataset" in ds._as_serialized_graph().numpy()


def test_folders_cache_when_they_fit_and_stream_when_they_do_not(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "pets", count=40, formats=("png",))
    spec = f"folder:{root}"
    assert _has_cache(data.load(spec))
    monkeypatch.setattr(loading, "CACHE_BYTES", 40 * 8 * 8 - 1)  # one byte short
    streamed = data.load(spec, with_labels=True, seed=1, batch_size=40)
    assert not _has_cache(streamed)
    (x1, y1), (x2, y2) = collect(streamed), collect(streamed)
    assert len(x1) == len(x2) == 40
    assert not np.array_equal(x1, x2)  # reshuffled paths every epoch
    # The same images each epoch, only reordered.
    np.testing.assert_array_equal(
        np.sort(x1.reshape(40, -1), axis=0), np.sort(x2.reshape(40, -1), axis=0)
    )
    assert sorted(y1) == sorted(y2)
    assert not _has_cache(data.load(spec, cache=False))
