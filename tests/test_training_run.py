import json
import os
import subprocess
import sys

import keras
import matplotlib.image
import numpy as np
import pytest
from conftest import device_epoch
from training_helpers import files_under
from training_helpers import tiny_config

import keras_vae
from keras_vae.training import run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_run_leaves_every_artifact(tmp_path):
    config = tiny_config(tmp_path)
    metrics = run(config, log=lambda message: None)
    workdir = config.workdir
    files = [f for f in files_under(workdir) if not f.startswith("logs/")]
    assert files == [
        "backup/latest.weights.h5",
        "backup/latest.weights.h5.bkp",
        "backup/training_metadata.json",
        "backup/training_metadata.json.bkp",
        "config.json",
        "history.csv",
        "images/recon/1.png",
        "images/recon/2.png",
        "images/sample_1.png",
        "images/sample_2.png",
        "metrics.json",
        "vae.keras",
    ]  # exactly these: no temporary files left behind
    logs = files_under(os.path.join(workdir, "logs"))
    for folder in ("train/", "validation/", "images/"):
        assert any(f.startswith(folder) and ".tfevents." in f for f in logs)
    with open(os.path.join(workdir, "metrics.json")) as f:
        assert json.load(f) == metrics
    assert metrics["epochs_completed"] == 2
    for split in ("train", "validation", "test"):
        part = metrics[split]
        assert part["neg_elbo"] == pytest.approx(part["reconstruction"] + part["kl"])
    assert metrics["images_per_second"] > 0 and metrics["wall_time_seconds"] > 0
    vae = keras.saving.load_model(os.path.join(workdir, "vae.keras"), safe_mode=True)
    assert vae.image_shape == (8, 8, 1)
    with open(os.path.join(workdir, "history.csv")) as f:
        assert len(f.read().strip().splitlines()) == 1 + 2
    grid = matplotlib.image.imread(os.path.join(workdir, "images", "recon", "2.png"))
    assert grid.ndim == 3 and grid.std() > 0.01  # not blank


def test_a_run_with_its_own_encoder_sizes_saves_them(tmp_path):
    config = tiny_config(tmp_path, epochs=1, hidden_units=(16,), encoder_units=(6,))
    metrics = run(config, log=lambda message: None)
    assert np.isfinite(metrics["test"]["neg_elbo"])
    vae = keras.saving.load_model(
        os.path.join(config.workdir, "vae.keras"), safe_mode=True
    )
    assert vae.encoder.get_layer("encoder_dense_0").units == 6
    assert vae.decoder.get_layer("decoder_dense_0").units == 16
    with open(os.path.join(config.workdir, "config.json")) as f:
        assert json.load(f)["encoder_units"] == [6]


def test_a_run_with_the_vamp_prior_saves_it(tmp_path):
    config = tiny_config(tmp_path, epochs=1, prior="vamp", prior_components=7)
    metrics = run(config, log=lambda message: None)
    assert np.isfinite(metrics["test"]["neg_elbo"])
    vae = keras.saving.load_model(
        os.path.join(config.workdir, "vae.keras"), safe_mode=True
    )
    assert isinstance(vae.prior, keras_vae.priors.VampPrior)
    assert vae.prior.num_components == 7


def test_a_finished_run_is_not_redone_and_more_epochs_continue(tmp_path):
    messages = []
    first = run(tiny_config(tmp_path), log=messages.append)
    again = run(tiny_config(tmp_path), log=messages.append)
    assert again == first
    assert "already finished 2 epochs" in messages[-1]
    longer = run(tiny_config(tmp_path, epochs=3), log=messages.append)
    assert any("Resuming" in m and "from epoch 2 of 3" in m for m in messages)
    assert longer["epochs_completed"] == 3 and longer["resumed_from_epoch"] == 2


@pytest.mark.parametrize("steps_per_execution", [1, 2])
def test_cosine_schedule_ends_at_its_floor_and_steps_are_all_counted(
    tmp_path, steps_per_execution
):
    config = tiny_config(
        tmp_path,
        lr_schedule="cosine",
        min_lr_fraction=0.1,
        learning_rate=1e-2,
        steps_per_execution=steps_per_execution,
        epochs=3,
    )
    metrics = run(config, log=lambda message: None)
    vae = keras.saving.load_model(
        os.path.join(config.workdir, "vae.keras"), safe_mode=True
    )
    # 72 training images at batch 32: 3 steps an epoch, 9 in all.
    assert int(vae.optimizer.iterations) == 9
    assert float(vae.optimizer.learning_rate) == pytest.approx(1e-3, rel=1e-4)
    images = metrics["images_per_second"] * metrics["wall_time_seconds"]
    assert images == pytest.approx(9 * 32)


def test_a_nan_in_a_multi_step_call_names_the_steps_it_ran(tmp_path):
    # 72 training images, batch 32: 3 steps an epoch, all in one call of 50
    # (PyTorch runs one step per call).
    config = tiny_config(tmp_path, epochs=3, steps_per_execution=50)
    where = "step 1" if keras.backend.backend() == "torch" else "steps 1-3"
    with pytest.raises(RuntimeError, match=rf"loss is nan at epoch 2, {where}\."):
        run(config, callbacks=[_PoisonWeights()], log=lambda m: None)


class _RecordWeights(keras.callbacks.Callback):
    def on_test_begin(self, logs=None):
        self.validated = [np.array(w) for w in self.model.trainable_weights]

    def on_epoch_end(self, epoch, logs=None):
        self.raw = [np.array(w) for w in self.model.trainable_weights]
        optimizer = self.model.optimizer
        self.averages = [np.array(v) for v in optimizer._model_variables_moving_average]


def test_ema_weights_are_validated_and_saved(tmp_path):
    config = tiny_config(tmp_path, ema_momentum=0.5, epochs=3)
    record = _RecordWeights()
    run(config, callbacks=[record], log=lambda m: None)
    vae = keras.saving.load_model(
        os.path.join(config.workdir, "vae.keras"), safe_mode=True
    )
    saved = [np.array(w) for w in vae.trainable_weights]
    assert any(
        not np.allclose(r, a) for r, a in zip(record.raw, record.averages, strict=True)
    )
    for validated, average, final in zip(
        record.validated, record.averages, saved, strict=True
    ):
        np.testing.assert_allclose(validated, average, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(final, average, rtol=1e-6, atol=1e-6)


class _StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True


def test_epochs_completed_counts_what_ran(tmp_path):
    metrics = run(
        tiny_config(tmp_path, epochs=4),
        callbacks=[_StopAfterFirstEpoch()],
        log=lambda m: None,
    )
    assert metrics["epochs_completed"] == 1


def test_a_workdir_with_other_settings_is_refused_before_training(tmp_path):
    run(tiny_config(tmp_path), log=lambda m: None)
    with pytest.raises(ValueError, match="other settings.*--arch: 'mlp' -> 'conv'"):
        run(tiny_config(tmp_path, arch="conv"), log=lambda m: None)


class _PoisonWeights(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            kernel = self.model.encoder.get_layer("z_mean").kernel
            kernel.assign(np.full(kernel.shape, np.nan, "float32"))


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_epoch(tmp_path):
    config = tiny_config(tmp_path, epochs=3, steps_per_execution=1)
    with pytest.raises(RuntimeError, match=r"loss is nan at epoch 2, step 1\."):
        run(config, callbacks=[_PoisonWeights()], log=lambda m: None)
    workdir = config.workdir
    assert not os.path.exists(os.path.join(workdir, "vae.keras"))
    assert not os.path.exists(os.path.join(workdir, "metrics.json"))
    with open(os.path.join(workdir, "backup", "training_metadata.json")) as f:
        assert json.load(f)["epoch"] == 1
    # The backup holds finite weights: resuming finishes the run.
    metrics = run(config, log=lambda m: None)
    assert metrics["resumed_from_epoch"] == 1
    assert np.isfinite(metrics["test"]["neg_elbo"])


KILLER = """
import json, os, signal, sys
import keras
from keras_vae.training import TrainConfig, run

class Kill(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:  # after the backup of epoch 1 is written
            os.kill(os.getpid(), signal.SIGKILL)

config = TrainConfig.from_dict(json.loads(sys.argv[1]))
run(config, callbacks=[Kill()] if sys.argv[2] == "kill" else [])
"""


def test_a_run_killed_with_sigkill_resumes_where_it_stopped(tmp_path):
    config = tiny_config(tmp_path, epochs=3)
    args = [sys.executable, "-c", KILLER, json.dumps(config.to_dict())]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    killed = subprocess.run(args + ["kill"], capture_output=True, text=True, env=env)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert not os.path.exists(os.path.join(config.workdir, "metrics.json"))
    resumed = subprocess.run(args + ["go"], capture_output=True, text=True, env=env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "from epoch 1 of 3" in resumed.stdout
    with open(os.path.join(config.workdir, "metrics.json")) as f:
        metrics = json.load(f)
    assert metrics["epochs_completed"] == 3 and metrics["resumed_from_epoch"] == 1
    with open(os.path.join(config.workdir, "history.csv")) as f:
        epochs = [line.split(",")[0] for line in f.read().strip().splitlines()[1:]]
    assert epochs == ["0", "1", "2"]


def test_mixed_bfloat16_runs(tmp_path):
    metrics = run(tiny_config(tmp_path, mixed_precision="mixed_bfloat16"), log=print)
    assert metrics["dtype_policy"] == "mixed_bfloat16"
    assert np.isfinite(metrics["test"]["neg_elbo"])


DISTRIBUTED = """
import json, sys
import keras
if keras.backend.backend() == "tensorflow":
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from keras_vae.training import TrainConfig, run
config = TrainConfig.from_dict(json.loads(sys.argv[1]))
print(json.dumps(run(config, log=lambda m: None)))
"""


@pytest.mark.parametrize(
    "mode, backend", [("mirrored", "tensorflow"), ("data_parallel", "jax")]
)
def test_distribution_on_two_logical_cpu_devices(tmp_path, mode, backend):
    if keras.backend.backend() != backend:
        pytest.skip(f"{mode} runs on {backend}")
    config = tiny_config(tmp_path, distribution=mode)
    env = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="3",
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
    )
    done = subprocess.run(
        [sys.executable, "-c", DISTRIBUTED, json.dumps(config.to_dict())],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads(done.stdout.strip().splitlines()[-1])
    assert metrics["replicas"] == 2
    assert np.isfinite(metrics["test"]["neg_elbo"])


def test_distribution_on_the_wrong_backend_is_refused(tmp_path):
    mode = "data_parallel" if keras.backend.backend() != "jax" else "mirrored"
    with pytest.raises(ValueError, match=f"--distribution={mode} needs KERAS_BACKEND"):
        run(tiny_config(tmp_path, distribution=mode), log=lambda m: None)


def test_a_run_exports_for_serving_at_the_end(tmp_path):
    export_dir = str(tmp_path / "saved_models")
    metrics = run(
        tiny_config(tmp_path, epochs=1, export_dir=export_dir, model_name="tiny"),
        log=lambda m: None,
    )
    assert metrics["export"]["version"] == 1
    for name in (
        "tiny_decoder/1/saved_model.pb",
        "tiny_encoder/1/saved_model.pb",
        "tiny/1/vae.keras",
        "tiny/1/manifest.json",
        "models.config",
    ):
        assert os.path.exists(os.path.join(export_dir, name)), name


MULTI_WORKER = """
import json, sys
from keras_vae.training import TrainConfig, run
config = TrainConfig.from_dict(json.loads(sys.argv[1]))
print(json.dumps(run(config, log=lambda m: None)))
"""


def _free_ports(count):
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multi_worker_with_two_processes_on_localhost(tmp_path):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("multi_worker runs on tensorflow")
    config = tiny_config(
        tmp_path, distribution="multi_worker", export_dir=str(tmp_path / "saved_models")
    )
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    workers = []
    for index in range(2):
        env = dict(
            os.environ,
            TF_CPP_MIN_LOG_LEVEL="3",
            TF_CONFIG=json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": index}}
            ),
        )
        workers.append(
            subprocess.Popen(
                [sys.executable, "-c", MULTI_WORKER, json.dumps(config.to_dict())],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        )
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    chief, other = results
    assert chief["replicas"] == 2 and chief["epochs_completed"] == 2
    assert chief["test"] == other["test"]  # metrics aggregate over both workers
    assert chief["export"]["version"] == 1 and other["export"] is None
    workdir = config.workdir
    assert os.path.exists(os.path.join(workdir, "metrics.json"))
    assert os.path.exists(os.path.join(workdir, "worker-1", "backup"))
    assert not os.path.exists(str(tmp_path / "saved_models" / "vae" / "2"))


def _epoch_rows(train):
    """One epoch of a training set, as sorted rows (order-free)."""
    if isinstance(train, keras_vae.data.DeviceBatches):
        batches = device_epoch(train)
    else:
        batches = [np.asarray(batch) for batch in train]
    return sorted(row.tobytes() for batch in batches for row in batch), batches


@pytest.mark.parametrize("binarize", ["none", "static", "threshold"])
def test_data_on_device_holds_the_images_tf_data_gives(tmp_path, binarize):
    from keras_vae.training.run import _load_data

    rng = np.random.default_rng(1)
    x = rng.random((96 + 32, 8, 8, 1)).astype("float32")  # gray: binarizing matters
    path = str(tmp_path / "gray.npz")
    np.savez(path, x_train=x[:96], x_test=x[96:])
    rows = []
    for on_device in (False, True):
        config = tiny_config(
            tmp_path, dataset=f"npz:{path}", binarize=binarize, data_on_device=on_device
        )
        train, validation, _ = _load_data(config)
        assert isinstance(train, keras_vae.data.DeviceBatches) == on_device
        assert validation is not None and not isinstance(
            validation, keras_vae.data.DeviceBatches
        )
        got, batches = _epoch_rows(train)
        assert [len(b) for b in batches] == [32, 32, 8]  # 72 of 96: 25% validate
        rows.append(got)
    assert rows[0] == rows[1]


def test_data_on_device_binarizes_dynamically_on_the_device(tmp_path):
    from keras_vae.training.run import _load_data

    x = np.full((96 + 32, 8, 8, 1), 0.5, "float32")
    path = str(tmp_path / "half.npz")
    np.savez(path, x_train=x[:96], x_test=x[96:])
    config = tiny_config(
        tmp_path, dataset=f"npz:{path}", binarize="dynamic", data_on_device=True
    )
    train = _load_data(config, start=3)[0]
    assert train.epoch == 3  # a run resumed after 3 epochs starts at the 4th
    first, second = (np.concatenate(_epoch_rows(train)[1]) for _ in range(2))
    for images in (first, second):
        assert set(np.unique(images)) == {0.0, 1.0}
        assert 0.4 < images.mean() < 0.6
    assert not np.array_equal(first, second)


def test_a_run_with_data_on_device_trains_and_saves(tmp_path):
    config = tiny_config(
        tmp_path,
        binarize="dynamic",
        data_on_device=True,
        lr_schedule="cosine",
        min_lr_fraction=0.1,
        learning_rate=1e-2,
        validation_fraction=0.0,
    )
    metrics = run(config, log=lambda message: None)
    assert metrics["epochs_completed"] == 2
    assert np.isfinite(metrics["test"]["neg_elbo"])
    assert metrics["validation"] is None
    vae = keras.saving.load_model(
        os.path.join(config.workdir, "vae.keras"), safe_mode=True
    )
    # 96 images at batch 32: 3 steps an epoch; the schedule counted them.
    assert int(keras.ops.convert_to_numpy(vae.optimizer.iterations)) == 2 * 3
    assert float(vae.optimizer.learning_rate) == pytest.approx(1e-3, rel=1e-4)
    images = metrics["images_per_second"] * metrics["wall_time_seconds"]
    assert images == pytest.approx(6 * 32)
    assert os.path.exists(os.path.join(config.workdir, "images", "sample_2.png"))


def test_data_on_device_is_refused_with_a_distribution(tmp_path):
    config = tiny_config(tmp_path, data_on_device=True, distribution="mirrored")
    with pytest.raises(ValueError, match="--data_on_device must be false with "):
        config.validate()
