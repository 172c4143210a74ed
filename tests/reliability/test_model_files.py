import json
import os
import pathlib
import zipfile

import keras
import pytest
from conftest import tiny_vae

from keras_vae import safe_loading
from keras_vae.safe_loading import ModelFileError
from keras_vae.safe_loading import load_model


@pytest.fixture
def saved(tmp_path):
    path = str(tmp_path / "vae.keras")
    tiny_vae().save(path)
    return path


def _rewrite(source, target, change):
    """Copies a zip, letting `change(name, data)` return new data or None."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            data = change(item.filename, src.read(item.filename))
            if data is not None:
                dst.writestr(item.filename, data)
    return target


def test_a_sound_file_loads(saved):
    assert isinstance(load_model(saved), keras.Model)
    load_model(saved, sha256=safe_loading.sha256_of(saved))


def test_missing_directory_and_empty_files_are_told_apart(tmp_path):
    with pytest.raises(FileNotFoundError, match="No model file at"):
        load_model(str(tmp_path / "nope.keras"))
    with pytest.raises(ModelFileError, match="is a directory"):
        load_model(str(tmp_path))
    empty = tmp_path / "empty.keras"
    empty.write_bytes(b"")
    with pytest.raises(ModelFileError, match=r"is empty \(0 bytes\)"):
        load_model(str(empty))


def test_truncated_and_garbage_files_are_told_apart(tmp_path, saved):
    data = pathlib.Path(saved).read_bytes()
    truncated = tmp_path / "half.keras"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated .keras archive"):
        load_model(str(truncated))
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(ModelFileError, match="not a .keras archive \\(not a zip"):
        load_model(str(garbage))


def test_legacy_hdf5_is_refused(tmp_path):
    h5 = tmp_path / "model.keras"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    with pytest.raises(ModelFileError, match="legacy HDF5.*CVE-2025-9905"):
        load_model(str(h5))
    named_h5 = tmp_path / "x.h5"
    named_h5.write_bytes(b"PK\x03\x04")
    with pytest.raises(ModelFileError, match="legacy HDF5"):
        load_model(str(named_h5))


def test_zips_that_are_not_models_or_unsafe_are_refused(tmp_path, saved):
    plain = str(tmp_path / "plain.keras")
    with zipfile.ZipFile(plain, "w") as z:
        z.writestr("readme.txt", "hi")
    with pytest.raises(ModelFileError, match="no config.json"):
        load_model(plain)
    traversal = str(tmp_path / "traversal.keras")
    with zipfile.ZipFile(traversal, "w") as z:
        z.writestr("config.json", "{}")
        z.writestr("../../evil.py", "print('x')")
    with pytest.raises(ModelFileError, match="unsafe path: '../../evil.py'"):
        load_model(traversal)
    bomb = str(tmp_path / "bomb.keras")
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", "{}")
        z.writestr("model.weights.h5", b"\x00" * (20 * 1024 * 1024))
    with pytest.raises(ModelFileError, match="zip bomb"):
        load_model(bomb)


def test_corrupt_member_truncated_weights_and_hash_mismatch(tmp_path, saved):
    stored = str(tmp_path / "stored.keras")
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(stored, "w") as dst:
        for item in src.infolist():
            dst.writestr(item.filename, src.read(item.filename))
    data = bytearray(pathlib.Path(stored).read_bytes())
    start = data.find(b"\x89HDF")  # inside the stored weights member
    data[start + 200] ^= 0xFF
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="fails its CRC check"):
        load_model(str(corrupt))
    cut = _rewrite(
        saved,
        str(tmp_path / "cut.keras"),
        lambda name, d: d[: len(d) // 3] if name.endswith(".h5") else d,
    )
    with pytest.raises(ModelFileError, match="weights file is truncated or corrupt"):
        load_model(cut)
    with pytest.raises(ModelFileError, match="SHA-256 .* but 00ff was expected"):
        load_model(saved, sha256="00ff")


def test_lambda_layers_and_foreign_modules_are_refused_and_run_nothing(tmp_path):
    marker = tmp_path / "ran"
    inputs = keras.Input((2,))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    lambda_path = str(tmp_path / "lambda.keras")
    keras.Model(inputs, outputs).save(lambda_path)
    with pytest.raises(ModelFileError, match="refused or could not be read"):
        load_model(lambda_path)

    hostile = str(tmp_path / "hostile.keras")

    def inject(name, data):
        if name != "config.json":
            return data
        config = {
            "module": "subprocess",
            "class_name": "Popen",
            "config": {"args": ["touch", str(marker)]},
            "registered_name": "Popen",
        }
        return json.dumps(config).encode()

    _rewrite(lambda_path, hostile, inject)
    with pytest.raises(ModelFileError):
        load_model(hostile)
    assert not marker.exists()


def test_the_package_never_turns_safe_mode_off():
    root = os.path.dirname(safe_loading.__file__)
    for folder, _, names in os.walk(root):
        for name in names:
            if name.endswith(".py"):
                text = pathlib.Path(folder, name).read_text()
                assert "safe_mode=False" not in text
                assert "enable_unsafe_deserialization" not in text
                assert "allow_pickle=True" not in text


def test_a_config_that_turns_safe_mode_off_is_refused_and_runs_nothing(tmp_path):
    """The config names `keras.config.enable_unsafe_deserialization` as a
    Dense activation, followed by a Lambda that would write a marker file if
    safe mode were off by the time it is loaded."""
    marker = tmp_path / "ran"
    inputs = keras.Input((2,))
    hidden = keras.layers.Dense(2, activation="relu", name="dense")(inputs)
    # The path is a constant of the code: Keras cannot restore a lambda's
    # default arguments, so a default would make the Lambda fail to load.
    touch = eval(f"lambda x: (open({str(marker)!r}, 'w').close(), x)[1]")
    outputs = keras.layers.Lambda(touch, name="touch")(hidden)
    marker.unlink()  # building the model ran the Lambda once
    plain = str(tmp_path / "plain.keras")
    keras.Model(inputs, outputs).save(plain)

    def inject(name, data):
        if name != "config.json":
            return data
        config = json.loads(data)
        dense = next(
            layer for layer in config["config"]["layers"] if layer["name"] == "dense"
        )
        dense["config"]["activation"] = {
            "module": "keras.config",
            "class_name": "function",
            "config": "enable_unsafe_deserialization",
            "registered_name": "function",
        }
        return json.dumps(config).encode()

    hostile = _rewrite(plain, str(tmp_path / "unsafe.keras"), inject)
    with pytest.raises(ModelFileError):
        load_model(hostile)
    assert not marker.exists()
    with pytest.raises(ModelFileError):  # safe mode is still on afterwards
        load_model(plain)
    assert not marker.exists()
    # Control: the marker does appear when the Lambda is allowed to load, so
    # the checks above could have failed.
    keras.saving.load_model(plain, safe_mode=False)
    assert marker.exists()
