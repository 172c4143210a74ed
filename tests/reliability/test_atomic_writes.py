"""Every write the package makes is atomic: a writer SIGKILLed mid-write
leaves the previous good file in place and loadable, and the temporary it
left behind is swept by the next run (or the next export)."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import keras
import pytest
from conftest import REPO
from conftest import tiny_vae
from training_helpers import files_under
from training_helpers import tiny_config

from keras_vae import safe_loading
from keras_vae.export import publish
from keras_vae.training import atomic
from keras_vae.training import run

# The child writes `what` to `path`, but stops forever inside `os.fsync`: the
# new content is in the temporary file, not yet renamed over `path`.
CHILD = """
import os, sys, time
sys.path.insert(0, {repo!r})
from keras_vae.training import atomic
what, path, ready = sys.argv[1:]

def hang(fd):
    open(ready, "w").close()
    time.sleep(600)

os.fsync = hang
if what == "json":
    atomic.write_json(path, {{"new": True}})
elif what == "model":
    import keras
    inputs = keras.Input((3,))
    keras.Model(inputs, keras.layers.Dense(2)(inputs)).save  # built
    from keras_vae.architectures import build_vae
    atomic.save_model(build_vae("mlp", (8, 8, 1), 2, hidden_units=(4,)), path)
elif what == "export":
    from keras_vae.export import publish
    def write(folder):
        os.makedirs(folder)
        open(os.path.join(folder, "saved_model.pb"), "w").close()
        hang(None)
    publish.publish(os.path.dirname(path), 2, write)
"""


def kill_mid_write(what, path, tmp_path):
    ready = tmp_path / f"{what}.ready"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(repo=REPO), what, str(path), str(ready)],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    deadline = time.time() + 300
    while not ready.exists():
        assert child.poll() is None, f"the {what} writer exited early"
        assert time.time() < deadline
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    return child.pid


def test_killed_json_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "metrics.json"
    atomic.write_json(str(path), {"old": True})
    pid = kill_mid_write("json", path, tmp_path)
    assert json.loads(path.read_text()) == {"old": True}
    left = [n for n in os.listdir(tmp_path) if f".{pid}." in n]
    assert len(left) == 1  # what the kill left behind...
    assert atomic.remove_stale_temporaries(str(tmp_path)) == [
        str(tmp_path / left[0])
    ]  # ...is swept, and nothing else is
    assert sorted(os.listdir(tmp_path)) == ["json.ready", "metrics.json"]


def test_killed_model_save_keeps_the_old_model_and_the_next_run_sweeps(tmp_path):
    config = tiny_config(tmp_path)
    run(config, log=lambda m: None)
    model_path = os.path.join(config.workdir, "vae.keras")
    before = safe_loading.sha256_of(model_path)
    pid = kill_mid_write("model", model_path, tmp_path)
    assert safe_loading.sha256_of(model_path) == before
    vae = safe_loading.load_model(model_path)
    assert vae.image_shape == (8, 8, 1)
    assert any(f".{pid}." in f for f in files_under(config.workdir))
    messages = []
    run(tiny_config(tmp_path, epochs=3), log=messages.append)
    assert any("left by a write that was killed" in m for m in messages)
    assert not any(".tmp" in f for f in files_under(config.workdir))


def test_killed_export_leaves_only_whole_versions(tmp_path):
    base = tmp_path / "vae_decoder"
    publish.publish(str(base), 1, lambda folder: os.makedirs(folder))
    kill_mid_write("export", base / "2", tmp_path)
    assert publish.versions(str(base)) == [1]
    assert len(os.listdir(base)) == 2  # version 1 and the dead export's folder
    final = publish.publish(str(base), 2, lambda folder: os.makedirs(folder))
    assert sorted(os.listdir(base)) == ["1", "2"] and final.endswith("2")


def test_a_live_writers_temporary_is_not_swept(tmp_path):
    with atomic.atomic_path(str(tmp_path / "vae.keras")) as tmp:
        tiny_vae().save(tmp)
        assert atomic.remove_stale_temporaries(str(tmp_path)) == []
        assert os.path.exists(tmp)
    assert os.listdir(tmp_path) == ["vae.keras"]


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_disk_full_at_any_write_names_it_and_keeps_the_last_good_files(
    tmp_path, monkeypatch
):
    config = tiny_config(tmp_path)
    run(config, log=lambda m: None)
    workdir = config.workdir
    before = {
        f: safe_loading.sha256_of(os.path.join(workdir, f))
        for f in ("vae.keras", "metrics.json")  # config.json: rewritten
    }

    with monkeypatch.context() as patch:  # full from the start: config.json
        patch.setattr(os, "fsync", _no_space)
        with pytest.raises(OSError, match="Could not write .*config.json .*space"):
            run(tiny_config(tmp_path, epochs=3), log=lambda m: None)
    with monkeypatch.context() as patch:  # full when the model is saved
        patch.setattr(keras.Model, "save", _no_space)
        with pytest.raises(OSError, match="Could not write .*vae.keras .*space"):
            run(tiny_config(tmp_path, epochs=3), log=lambda m: None)

    for name, digest in before.items():
        assert safe_loading.sha256_of(os.path.join(workdir, name)) == digest, name
    assert safe_loading.load_model(os.path.join(workdir, "vae.keras"))
    assert not any(".tmp" in f for f in files_under(workdir))


def test_too_little_free_space_is_refused_before_training(tmp_path, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(
        shutil, "disk_usage", lambda path: usage._replace(free=10 * 1024**2)
    )
    config = tiny_config(tmp_path)
    with pytest.raises(ValueError, match="has 10 MB free; this run writes about"):
        run(config, log=lambda m: None)
    assert not os.path.exists(os.path.join(config.workdir, "backup"))
