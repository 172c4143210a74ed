"""scripts/evaluate.py and scripts/latent_study.py end to end on tiny data."""

import json

import matplotlib.image
import numpy as np
import pytest
from conftest import run_script
from conftest import tiny_vae
from training_helpers import tiny_npz


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    tiny_vae().save(str(root / "vae.keras"))
    return root, f"npz:{tiny_npz(str(root))}"


def test_evaluate_prints_a_table_then_one_json_line(saved):
    root, dataset = saved
    done = run_script(
        "evaluate.py",
        f"--model={root / 'vae.keras'}",
        f"--dataset={dataset}",
        "--iwae_samples=20",
        "--binarize=dynamic",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert any(line.strip().startswith("iwae_nll") for line in lines[:-1])
    result = json.loads(lines[-1])
    assert result["examples"] == 32 and result["iwae_samples"] == 20
    for key in (
        "neg_elbo",
        "reconstruction",
        "kl",
        "iwae_nll",
        "bits_per_dim",
        "active_units",
        "kl_per_dim",
    ):
        assert key in result
    assert np.isfinite(result["iwae_nll"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--iwae_samples=-1"], "--iwae_samples must be >= 0"),
        (["--image_size=16"], "has images of shape (16, 16, 1), but the model takes"),
        (["--model=/nowhere.keras"], "No model file at /nowhere.keras"),
    ],
)
def test_evaluate_refuses_bad_input(saved, args, message):
    root, dataset = saved
    done = run_script(
        "evaluate.py", f"--model={root / 'vae.keras'}", f"--dataset={dataset}", *args
    )
    assert done.returncode == 1 and message in done.stderr


def test_latent_study_trains_each_size_and_plots(tmp_path):
    dataset = f"npz:{tiny_npz(str(tmp_path))}"
    study = tmp_path / "study"
    done = run_script(
        "latent_study.py",
        f"--dataset={dataset}",
        "--sizes=2,4",
        "--hidden_units=16",
        "--epochs=1",
        "--batch_size=32",
        "--verbose=0",
        f"--study_dir={study}",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(summary) == ["2", "4"]
    assert all(np.isfinite(v["neg_elbo"]) for v in summary.values())
    for size in (2, 4):
        assert (study / f"latent_{size}" / "vae.keras").exists()
    figure = matplotlib.image.imread(str(study / "latent_study.png"))
    assert figure.std() > 0.05
    with open(study / "study.json") as f:
        assert json.load(f) == summary
