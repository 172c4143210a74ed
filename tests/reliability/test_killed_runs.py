"""SIGKILL at several points of a deterministic run, each followed by a
restart with the same workdir (one of them half-way through writing a checkpoint, which
the backup's previous copy replaces): the run finishes with the right number of
epochs and ends with exactly the weights and optimizer state of a run that
was never interrupted."""

import csv
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import REPO

CHILD = """
import json, os, signal, sys
sys.path.insert(0, {repo!r})
import keras
from keras_vae.training import TrainConfig, run

workdir, data, kill = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
options = json.loads(sys.argv[4])

if kill and kill[0] == "save_weights":  # dies half-way through a backup
    original, calls = keras.Model.save_weights, [0]

    def save_weights(self, filepath, *args, **kwargs):
        calls[0] += 1
        if calls[0] == kill[1]:
            full = filepath.replace(".weights.h5", ".full.weights.h5")
            original(self, full, *args, **kwargs)
            with open(full, "rb") as f:
                data_bytes = f.read()
            with open(filepath, "wb") as f:
                f.write(data_bytes[: len(data_bytes) // 2])
            os.remove(full)
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, filepath, *args, **kwargs)

    keras.Model.save_weights = save_weights

class Kill(keras.callbacks.Callback):
    # Runs after the package's callbacks, so after the epoch's backup.
    def on_train_batch_end(self, batch, logs=None):
        if kill and kill[0] == "step" and [self.epoch, batch] == kill[1:]:
            os.kill(os.getpid(), signal.SIGKILL)
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
    def on_epoch_end(self, epoch, logs=None):
        if kill and kill[0] == "epoch_end" and epoch == kill[1]:
            os.kill(os.getpid(), signal.SIGKILL)
    def on_train_end(self, logs=None):  # before vae.keras is written
        if kill and kill[0] == "train_end":
            os.kill(os.getpid(), signal.SIGKILL)

config = TrainConfig(
    workdir=workdir, dataset="npz:" + data, arch="mlp", hidden_units=(16,),
    latent_dim=3, epochs=3, batch_size=16, validation_fraction=0.25,
    binarize="dynamic", steps_per_execution=1, deterministic=True, seed=7,
    verbose=0, export_dir=None, **options,
)
run(config, callbacks=[Kill()], log=print)
"""
KILL_POINTS = [
    ("epoch_end", 0),  # between epochs, after the backup
    ("step", 1, 2),  # in the middle of the second epoch
    ("train_end",),  # after the last epoch, before vae.keras
    ("save_weights", 2),  # half-way through writing the second backup
]


@pytest.fixture(scope="module")
def gray_npz(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = str(tmp_path_factory.mktemp("data") / "gray.npz")
    x = rng.random((96 + 32, 8, 8, 1)).astype("float32")
    np.savez(path, x_train=x[:96], x_test=x[96:])
    return path


def train(workdir, data, kill=None, **options):
    return subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD.format(repo=REPO),
            workdir,
            data,
            json.dumps(kill),
            json.dumps(options),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=600,
    )


def final_state(workdir):
    vae = keras.saving.load_model(os.path.join(workdir, "vae.keras"), safe_mode=True)
    weights = [keras.ops.convert_to_numpy(w) for w in vae.weights]
    optimizer = [keras.ops.convert_to_numpy(v) for v in vae.optimizer.variables]
    with open(os.path.join(workdir, "metrics.json")) as f:
        metrics = json.load(f)
    with open(os.path.join(workdir, "history.csv")) as f:
        epochs = [row["epoch"] for row in csv.DictReader(f)]
    return weights, optimizer, metrics, epochs


def uninterrupted_run(tmp_path_factory, data, **options):
    workdir = str(tmp_path_factory.mktemp("whole") / "run")
    done = train(workdir, data, **options)
    assert done.returncode == 0, done.stderr[-3000:]
    return final_state(workdir)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, gray_npz):
    return uninterrupted_run(tmp_path_factory, gray_npz)


@pytest.fixture(scope="module")
def uninterrupted_on_device(tmp_path_factory, gray_npz):
    return uninterrupted_run(tmp_path_factory, gray_npz, data_on_device=True)


@pytest.mark.parametrize("kill", KILL_POINTS, ids=lambda k: "-".join(map(str, k)))
def test_a_killed_run_resumes_to_the_same_final_weights(
    tmp_path, gray_npz, uninterrupted, kill
):
    check_killed_and_resumed(tmp_path, gray_npz, uninterrupted, kill)


def test_a_killed_run_with_data_on_device_resumes_to_the_same_final_weights(
    tmp_path, gray_npz, uninterrupted, uninterrupted_on_device
):
    """Killed mid-epoch: the resumed run's DeviceBatches start at the epoch
    the backup holds, with that epoch's order and binarization."""
    check_killed_and_resumed(
        tmp_path, gray_npz, uninterrupted_on_device, ("step", 1, 2), on_device=True
    )
    # Another data order and binarization than tf.data's: other weights.
    pairs = zip(uninterrupted_on_device[0], uninterrupted[0], strict=True)
    assert not all(np.array_equal(a, b) for a, b in pairs)


def check_killed_and_resumed(tmp_path, data, expected, kill, on_device=False):
    options = {"data_on_device": True} if on_device else {}
    workdir = str(tmp_path / "run")
    killed = train(workdir, data, list(kill), **options)
    assert killed.returncode == -9, killed.stderr[-3000:]  # SIGKILL
    assert not os.path.exists(os.path.join(workdir, "metrics.json"))
    resumed = train(workdir, data, **options)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resuming" in resumed.stdout

    weights, optimizer, metrics, epochs = final_state(workdir)
    want_weights, want_optimizer, want_metrics, want_epochs = expected
    assert metrics["epochs_completed"] == 3 and epochs == want_epochs == ["0", "1", "2"]
    assert len(weights) == len(want_weights)
    for got, want in zip(weights, want_weights, strict=True):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(optimizer, want_optimizer, strict=True):
        np.testing.assert_array_equal(got, want)  # iterations and moments too
    assert metrics["test"] == want_metrics["test"]
