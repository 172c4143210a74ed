"""scripts/train.py: flags, flagfiles, exit codes."""

import importlib.util
import os
import sys

import pytest
from absl import flags
from conftest import run_script
from training_helpers import tiny_npz

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "scripts", "train.py")


def _script_module():
    name = "keras_vae_train_script"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SCRIPT)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def _parse(argv):
    module = _script_module()
    flags.FLAGS.unparse_flags()
    try:
        flags.FLAGS(["train.py", *argv])
        return module.config_from_flags()
    finally:
        flags.FLAGS.unparse_flags()


def _train(args, cwd=REPO):
    return run_script("train.py", *args, cwd=cwd)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("fashion_mnist.flags", {"arch": "mlp", "binarize": "dynamic", "epochs": 20}),
        (
            "fashion_mnist_nll.flags",
            {
                "hidden_units": (1024, 1024),
                "encoder_units": (512, 512),
                "prior": "vamp",
                "prior_components": 100,
                "latent_dim": 64,
                "lr_schedule": "cosine",
                "ema_momentum": 0.999,
                "backend": "jax",
                "validation_fraction": 0.0,
            },
        ),
        ("mnist_mlp.flags", {"hidden_units": (400,), "latent_dim": 20, "epochs": 10}),
        ("mnist_conv.flags", {"arch": "conv", "latent_dim": 2, "epochs": 30}),
        (
            "mnist_dcgan.flags",
            {"arch": "dcgan", "batch_size": 1024, "learning_rate": 0.002},
        ),
        (
            "birds32.flags",
            {"image_size": 32, "latent_dim": 180, "dataset": "tfds:caltech_birds2011"},
        ),
        (
            "smoke.flags",
            {
                "arch": "mlp",
                "binarize": "dynamic",
                "epochs": 1,
                "max_examples": 512,
                "workdir": "runs/smoke",
            },
        ),
    ],
)
def test_each_recipe_flagfile_is_a_valid_config(name, expected, monkeypatch):
    monkeypatch.chdir(REPO)  # nested --flagfile paths are relative to the cwd
    config = _parse([f"--flagfile=configs/{name}"])
    for key, value in expected.items():
        assert getattr(config, key) == value


def test_encoder_units_flag_and_its_empty_form(monkeypatch):
    monkeypatch.chdir(REPO)
    config = _parse(["--flagfile=configs/smoke.flags", "--encoder_units=8,4"])
    assert (config.encoder_units, config.hidden_units) == ((8, 4), (400,))
    assert _parse(["--flagfile=configs/smoke.flags"]).encoder_units is None
    # An empty value undoes a flagfile's: the encoder mirrors --hidden_units.
    emptied = _parse(
        ["--flagfile=configs/smoke.flags", "--encoder_units=8", "--encoder_units="]
    )
    assert emptied.encoder_units is None


def test_later_flags_win_over_flagfiles(monkeypatch):
    monkeypatch.chdir(REPO)
    config = _parse(["--flagfile=configs/smoke.flags", "--epochs=3", "--beta=0.5"])
    assert (config.epochs, config.beta, config.max_examples) == (3, 0.5, 512)


def test_data_on_device_flag(monkeypatch):
    monkeypatch.chdir(REPO)
    assert not _parse(["--flagfile=configs/smoke.flags"]).data_on_device
    assert _parse(["--flagfile=configs/smoke.flags", "--data_on_device"]).data_on_device


def test_the_script_trains_and_its_flags_file_reproduces_the_run(tmp_path):
    dataset = f"npz:{tiny_npz(str(tmp_path))}"
    flagfile = tmp_path / "base.flags"
    flagfile.write_text(
        "# a comment\n--arch=mlp\n--hidden_units=16\n--latent_dim=3\n"
        f"--dataset={dataset}\n--batch_size=32\n--epochs=5\n"
    )
    workdir = tmp_path / "run"
    done = _train(
        [
            f"--flagfile={flagfile}",
            "--epochs=1",
            f"--workdir={workdir}",
            "--verbose=0",
            "--validation_fraction=0.25",
        ]
    )
    assert done.returncode == 0, done.stderr[-2000:]
    saved = (workdir / "flags.txt").read_text()
    assert f"--workdir={workdir}\n" in saved and "--epochs=1\n" in saved
    assert (workdir / "metrics.json").exists() and (workdir / "vae.keras").exists()
    again = _train([f"--flagfile={workdir / 'flags.txt'}"], cwd=str(tmp_path))
    assert again.returncode == 0, again.stderr[-2000:]
    assert "already finished 1 epochs" in again.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs=-3"], "--epochs must be an int >= 1. Received: -3"),
        (["--arch=gan"], "--arch must be one of"),
        (["--learning_rate=0"], "--learning_rate must be > 0"),
        (["--hidden_units=4,x"], "--hidden_units must be a list of ints"),
        (["--encoder_units=4,x"], "--encoder_units must be a list of ints"),
        (["--arch=conv", "--encoder_units=4"], "--encoder_units must be empty"),
        (
            ["--dataset=npz:/nowhere.npz"],
            "Data spec 'npz:/nowhere.npz': file not found",
        ),
        (["--no_such_flag=1"], "Unknown command line flag 'no_such_flag'"),
        (["--flagfile=/nowhere.flags"], "nowhere.flags"),
        (["--binarize=sometimes"], "binarize"),
        (["--prior=flow"], "prior"),
        (["--prior=vamp", "--free_bits=1"], "--free_bits must be 0 with --prior=vamp"),
        (
            ["--data_on_device", "--distribution=mirrored"],
            "--data_on_device must be false with --distribution=mirrored",
        ),
    ],
)
def test_bad_flags_exit_1_with_one_clear_message(tmp_path, args, message):
    done = _train([f"--workdir={tmp_path / 'run'}", "--verbose=0", *args])
    assert done.returncode == 1
    assert message in done.stderr
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_an_incompatible_workdir_exits_1_before_training(tmp_path):
    dataset = f"npz:{tiny_npz(str(tmp_path))}"
    common = [
        f"--workdir={tmp_path / 'run'}",
        f"--dataset={dataset}",
        "--epochs=1",
        "--hidden_units=16",
        "--latent_dim=3",
        "--verbose=0",
    ]
    assert _train(common).returncode == 0
    done = _train(common + ["--latent_dim=4"])
    assert done.returncode == 1
    assert "--latent_dim: 3 -> 4" in done.stderr
    assert "--latent_dim=3\n" in (tmp_path / "run" / "flags.txt").read_text()
