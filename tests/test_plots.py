"""Every plot writes a PNG of its fixed size with visible content, on each
backend; the scripts check their inputs before drawing."""

import os
import statistics

import matplotlib.image
import numpy as np
import pytest
from conftest import run_script
from conftest import tiny_vae

from keras_vae import plots
from keras_vae import priors

RNG = np.random.default_rng(0)
IMAGES = (RNG.random((60, 8, 8, 1)) > 0.5).astype("float32")
LABELS = np.arange(60) % 3


def _check_png(path, size_inches):
    image = matplotlib.image.imread(path)
    expected = (round(size_inches[1] * plots.DPI), round(size_inches[0] * plots.DPI))
    assert image.shape[:2] == expected
    assert image[..., :3].std() > 0.05  # not blank


@pytest.fixture(scope="module")
def vae():
    return tiny_vae("mlp", latent_dim=3)


@pytest.mark.parametrize(
    "name, draw, size",
    [
        (
            "reconstructions",
            lambda v, p: plots.reconstructions(v, IMAGES, p),
            (10, 3.4),
        ),
        ("samples", lambda v, p: plots.samples(v, p, num=16), (6, 6.4)),
        ("scatter", lambda v, p: plots.latent_scatter(v, IMAGES, LABELS, p), (7, 6)),
        ("manifold", lambda v, p: plots.manifold(v, p, n=5, images=IMAGES), (8, 8)),
        (
            "interpolation",
            lambda v, p: plots.interpolation(v, IMAGES[0], IMAGES[1], p),
            (10, 3.4),
        ),
        (
            "attribute",
            lambda v, p: plots.attribute(v, IMAGES, LABELS, p, source=0, target=2),
            (10, 4.8),
        ),
        ("traversals", lambda v, p: plots.traversals(v, IMAGES[0], p), (8, 4.8)),
    ],
)
def test_each_plot_writes_a_png_of_its_size(vae, tmp_path, name, draw, size):
    path = str(tmp_path / f"{name}.png")
    assert draw(vae, path) == path
    _check_png(path, size)


def test_latent_scatter_of_a_2d_latent_and_its_manifold(tmp_path):
    vae = tiny_vae("mlp", latent_dim=2)
    plots.latent_scatter(vae, IMAGES, LABELS, str(tmp_path / "s.png"))
    plots.manifold(vae, str(tmp_path / "m.png"), n=4)
    _check_png(str(tmp_path / "s.png"), (7, 6))
    _check_png(str(tmp_path / "m.png"), (8, 8))


def _record_decodes(vae, monkeypatch):
    """The list that each `vae.decode(z)` call's `z` is appended to."""
    decoded = []
    decode = vae.decode
    monkeypatch.setattr(vae, "decode", lambda z: decoded.append(z) or decode(z))
    return decoded


def test_manifold_walks_the_quantiles_of_a_learned_prior(tmp_path, monkeypatch):
    vae = tiny_vae("mlp", latent_dim=3, prior=priors.VampPrior(5))
    decoded = _record_decodes(vae, monkeypatch)
    plots.manifold(vae, str(tmp_path / "m.png"), n=4, dims=(2, 0))
    (z,) = decoded
    means, log_vars = vae.prior_components()
    table = priors.marginal_quantiles(means, log_vars, np.linspace(0.05, 0.95, 4))
    grid = z.reshape(4, 4, 3)
    # Columns sweep dims[0] left to right, rows dims[1] top (high) to bottom.
    np.testing.assert_allclose(grid[0, :, 2], table[:, 2], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(grid[:, 0, 0], table[::-1, 0], rtol=1e-6, atol=1e-6)
    # The third dimension sits at the mixture's mean, not at 0.
    np.testing.assert_allclose(grid[..., 1], means[:, 1].mean(), rtol=1e-6)
    assert abs(means[:, 1].mean()) > 1e-4
    _check_png(str(tmp_path / "m.png"), (8, 8))


def test_manifold_ticks_show_the_median_as_0_not_minus_0(tmp_path, monkeypatch):
    # The 50% quantile of N(0, 1) comes out as a tiny negative number.
    figures = []
    save = plots._save
    monkeypatch.setattr(
        plots, "_save", lambda fig, p: figures.append(fig) or save(fig, p)
    )
    plots.manifold(tiny_vae("mlp", latent_dim=2), str(tmp_path / "m.png"), n=15)
    (ax,) = figures[0].axes
    for ticks in (ax.get_xticklabels(), ax.get_yticklabels()):
        labels = [t.get_text() for t in ticks]
        assert labels[7] == "0.0" and "-0.0" not in labels, labels
        assert labels[0] == "-1.6" or labels[-1] == "-1.6", labels


@pytest.mark.parametrize("prior", ["standard_normal", "vamp"])
def test_traversals_sweep_the_prior_quantiles(tmp_path, monkeypatch, prior):
    vae = tiny_vae("mlp", latent_dim=3, prior=prior)
    decoded = _record_decodes(vae, monkeypatch)
    plots.traversals(vae, IMAGES[0], str(tmp_path / "t.png"), dims=(0, 2))
    code = vae.encode(IMAGES[:1])[0][0]
    probs = [statistics.NormalDist().cdf(v) for v in np.linspace(-3, 3, 9)]
    table = priors.marginal_quantiles(*vae.prior_components(), probs)
    if prior == "standard_normal":  # the values before learned priors
        np.testing.assert_allclose(table[:, 0], np.linspace(-3, 3, 9), atol=1e-6)
    for d, z in zip((0, 2), decoded, strict=True):
        np.testing.assert_allclose(z[:, d], table[:, d], rtol=1e-5, atol=1e-6)
        others = [o for o in range(3) if o != d]
        np.testing.assert_allclose(z[:, others], np.tile(code[others], (9, 1)))
    _check_png(str(tmp_path / "t.png"), (8, 3.4))


def test_traversals_over_given_values(tmp_path, monkeypatch):
    vae = tiny_vae("mlp", latent_dim=2)
    decoded = _record_decodes(vae, monkeypatch)
    plots.traversals(vae, IMAGES[0], str(tmp_path / "t.png"), values=[-1, 0, 2])
    np.testing.assert_allclose(decoded[1][:, 1], [-1, 0, 2])


def test_training_curves_from_a_history_with_a_rerun_epoch(tmp_path):
    history = tmp_path / "history.csv"
    history.write_text(
        "epoch,kl,loss,reconstruction,val_kl,val_loss,val_reconstruction\n"
        "0,5,100,95,5,101,96\n1,6,90,84,6,92,86\n1,6,89,83,6,91,85\n2,7,80,73,7,82,75\n"
    )
    assert [r["loss"] for r in plots.read_history(str(history))] == ["100", "89", "80"]
    plots.curves(str(history), str(tmp_path / "c.png"))
    _check_png(str(tmp_path / "c.png"), (13, 4))


def test_latent_size_figure(tmp_path, vae):
    recon = [vae.reconstruct(IMAGES[:6]) for _ in range(2)]
    path = str(tmp_path / "sizes.png")
    plots.latent_sizes([2, 4], [80.0, 70.0], IMAGES[:6], recon, path)
    _check_png(path, (10, 4 + 1.2 * 2))


def test_slerp_stays_on_the_sphere_and_attribute_labels_must_exist(vae):
    a, b = np.array([3.0, 0.0]), np.array([0.0, 3.0])
    assert np.linalg.norm(plots._slerp(a, b, 0.5)) == pytest.approx(3.0)
    with pytest.raises(
        ValueError, match="No image has label 7; labels present: \\[0, 1, 2\\]"
    ):
        plots.attribute_vector(vae, IMAGES, LABELS, source=0, target=7)


@pytest.fixture(scope="module")
def saved(vae, tmp_path_factory):
    root = tmp_path_factory.mktemp("saved")
    vae.save(str(root / "vae.keras"))
    np.savez(str(root / "data.npz"), x_test=IMAGES, y_test=LABELS, x_train=IMAGES)
    (root / "history.csv").write_text(
        "epoch,kl,loss,reconstruction\n0,1,10,9\n1,1,8,7\n"
    )
    return root


def test_visualize_and_generate_scripts(saved, tmp_path):
    model, dataset = str(saved / "vae.keras"), f"npz:{saved / 'data.npz'}"
    done = run_script(
        "visualize.py",
        f"--model={model}",
        f"--dataset={dataset}",
        f"--output_dir={tmp_path}",
        "--num=60",
        "--source_label=0",
        "--target_label=1",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(os.listdir(tmp_path)) == sorted(f"{p}.png" for p in plots.PLOTS)
    grid = str(tmp_path / "grid.png")
    done = run_script(
        "generate.py", f"--model={model}", "--z=0,0,0;1,-1,0.5", f"--output={grid}"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert matplotlib.image.imread(grid).shape[:2] == (10, 19)  # 2 images, padded


@pytest.mark.parametrize(
    "script, args, message",
    [
        ("visualize.py", ["--plots=heatmap"], "Unknown plot(s) ['heatmap']"),
        ("visualize.py", ["--image_size=16"], "has images of shape (16, 16, 1)"),
        ("visualize.py", ["--model=/nowhere.keras"], "No model file at /nowhere.keras"),
        ("generate.py", ["--z=0,1"], "has 2 values; the model's latent size is 3"),
        ("generate.py", ["--z=a,b,c"], "is not a list of numbers"),
    ],
)
def test_scripts_refuse_bad_input_before_work(saved, tmp_path, script, args, message):
    base = [
        f"--model={saved / 'vae.keras'}",
        f"--output_dir={tmp_path}",
        f"--output={tmp_path / 'g.png'}",
        f"--dataset=npz:{saved / 'data.npz'}",
    ]
    if script == "generate.py":
        base = [a for a in base if not a.startswith(("--output_dir", "--dataset"))]
    else:
        base = [a for a in base if not a.startswith("--output=")]
    done = run_script(script, *base, *args)
    assert done.returncode == 1
    assert message in done.stderr
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".png")]
