"""Atomic writes, image grids and TrainConfig validation."""

import json
import os

import keras
import matplotlib.image
import numpy as np
import pytest
from conftest import tiny_vae
from training_helpers import files_under

from keras_vae.training import TrainConfig
from keras_vae.training import atomic
from keras_vae.training.image_grids import make_grid
from keras_vae.training.image_grids import save_png


def test_atomic_write_replaces_only_on_success(tmp_path):
    path = str(tmp_path / "metrics.json")
    atomic.write_json(path, {"a": 1})
    with pytest.raises(RuntimeError, match="disk gone"):
        with atomic.atomic_path(path) as tmp:
            with open(tmp, "w") as f:
                f.write("{half")
            raise RuntimeError("disk gone")
    with open(path) as f:
        assert f.read() == '{\n  "a": 1\n}\n'
    assert files_under(str(tmp_path)) == ["metrics.json"]  # no temporary left
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600


def test_a_failed_model_save_keeps_the_previous_file(tmp_path, monkeypatch):
    path = str(tmp_path / "vae.keras")
    vae = tiny_vae()
    atomic.save_model(vae, path)
    reference = vae.encode(np.zeros((1, 8, 8, 1), "float32"))[0]

    def crash(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"PK\x03\x04 partial")
        raise OSError("killed mid-write")

    monkeypatch.setattr(keras.Model, "save", crash)
    with pytest.raises(OSError, match="killed mid-write"):
        atomic.save_model(tiny_vae(), path)
    monkeypatch.undo()
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        loaded.encode(np.zeros((1, 8, 8, 1), "float32"))[0], reference
    )
    assert files_under(str(tmp_path)) == ["vae.keras"]


def test_grids_tile_images_with_padding_and_save_as_png(tmp_path):
    images = np.stack([np.full((4, 5, 1), i / 5) for i in range(6)]).astype("float32")
    grid = make_grid(images, columns=4, pad=1)
    assert grid.shape == (2 * 5 + 1, 4 * 6 + 1, 1)
    np.testing.assert_allclose(grid[1:5, 1:6, 0], 0.0)
    np.testing.assert_allclose(grid[6:10, 1:6, 0], 4 / 5)
    path = str(tmp_path / "g.png")
    save_png(path, grid)
    read = matplotlib.image.imread(path)
    assert read.shape[:2] == grid.shape[:2] and read.std() > 0.05


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("epochs", 0, "--epochs must be an int >= 1. Received: 0"),
        ("batch_size", 2.5, "--batch_size must be an int >= 1"),
        ("latent_dim", -1, "--latent_dim must be empty or an int >= 1"),
        ("beta", -0.1, "--beta must be >= 0"),
        ("validation_fraction", 1.0, "--validation_fraction must be in"),
        ("mixed_precision", "fp8", "--mixed_precision must be one of"),
        ("distribution", "horovod", "--distribution must be one of"),
        ("likelihood", "poisson", "--likelihood must be one of"),
        ("kl_warmup_epochs", -1, "--kl_warmup_epochs must be an int >= 0"),
        ("hidden_units", (), "--hidden_units must be a list"),
        ("encoder_units", (), "--encoder_units must be empty or a list"),
        ("encoder_units", (4, -1), "--encoder_units must be empty or a list"),
        ("workdir", "", "--workdir must be a directory path"),
        ("steps_per_execution", 0, "--steps_per_execution must be an int >= 1"),
        ("lr_schedule", "step", "--lr_schedule must be one of"),
        ("min_lr_fraction", 0.0, "--min_lr_fraction must be in"),
        ("ema_momentum", 1.0, "--ema_momentum must be in"),
        ("prior", "flow", "--prior must be one of"),
        ("prior_components", 0, "--prior_components must be an int >= 1"),
    ],
)
def test_config_validation_names_the_flag(field, value, message):
    config = TrainConfig(workdir="w")
    setattr(config, field, value)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        config.validate()


@pytest.mark.parametrize("encoder_units", [None, (6,)])
def test_config_round_trips_through_json(encoder_units):
    config = TrainConfig(
        workdir="w", hidden_units=(8, 4), encoder_units=encoder_units, latent_dim=3
    )
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_free_bits_are_refused_with_the_vamp_prior():
    config = TrainConfig(workdir="w", prior="vamp", free_bits=0.5)
    with pytest.raises(ValueError, match="--free_bits must be 0 with --prior=vamp"):
        config.validate()


def test_encoder_units_are_refused_for_the_conv_architectures():
    config = TrainConfig(workdir="w", arch="conv", encoder_units=(8,))
    message = "--encoder_units must be empty for --arch=conv"
    with pytest.raises(ValueError, match=message):
        config.validate()


def test_a_run_saved_before_a_field_existed_still_resumes(tmp_path):
    config = TrainConfig(workdir=str(tmp_path))
    saved = config.to_dict()
    for newer in (
        "lr_schedule",
        "min_lr_fraction",
        "steps_per_execution",
        "ema_momentum",
        "encoder_units",
    ):
        del saved[newer]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(saved))
    config.check_compatible(str(path))  # the defaults are what it ran with
    with pytest.raises(ValueError, match="--lr_schedule: 'constant' -> 'cosine'"):
        TrainConfig(workdir=str(tmp_path), lr_schedule="cosine").check_compatible(
            str(path)
        )


def test_an_unwritable_workdir_is_refused_at_start(tmp_path):
    from keras_vae.training import run

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ValueError, match="not a writable directory"):
        run(TrainConfig(workdir=str(blocker / "run")), log=lambda m: None)
    assert not os.path.exists(str(blocker) + "/run")
