"""The tutorials' pictures, as PNG files (matplotlib, headless).

Every function takes a trained `VAE` (and data where needed), writes one PNG
atomically at `path` with a fixed pixel size (figure size x `DPI`), and
returns `path`. Images are float arrays in [0, 1], `[n, H, W, C]`.
"""

import csv
import statistics

import numpy as np

from keras_vae import priors
from keras_vae.training.atomic import atomic_path
from keras_vae.training.image_grids import make_grid

DPI = 100
PLOTS = (
    "reconstructions",
    "samples",
    "latent_scatter",
    "manifold",
    "interpolation",
    "attribute",
    "traversals",
    "curves",
)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    plt = _pyplot()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=DPI, format="png")
    plt.close(fig)
    return path


def _imshow(ax, image, title=None):
    image = np.clip(np.asarray(image, "float32"), 0.0, 1.0)
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0.0, vmax=1.0)
    else:
        ax.imshow(image)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def _grid_figure(rows, title, row_labels, path, width=10.0):
    """One figure of image rows (each `[n, H, W, C]`), a label per row."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(rows), 1, figsize=(width, 1.4 * len(rows) + 0.6))
    axes = np.atleast_1d(axes)
    for ax, images, label in zip(axes, rows, row_labels, strict=True):
        _imshow(ax, make_grid(images, columns=len(images)))
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(title)
    return _save(fig, path)


def reconstructions(vae, images, path, num=10):
    """Originals above their reconstructions (decoded posterior means)."""
    images = np.asarray(images, "float32")[:num]
    return _grid_figure(
        [images, vae.reconstruct(images)],
        "Reconstructions",
        ["original", "reconstruction"],
        path,
    )


def samples(vae, path, num=64, seed=0):
    """Images decoded from `num` prior samples z ~ N(0, I)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 6.4))
    _imshow(
        ax, make_grid(vae.sample(num, seed=seed), columns=int(np.ceil(np.sqrt(num))))
    )
    ax.set_title(f"{num} samples from the prior (seed {seed})")
    return _save(fig, path)


def _codes(vae, images):
    return vae.encode(np.asarray(images, "float32"))[0]


def latent_scatter(vae, images, labels, path):
    """Posterior means coloured by label; through PCA beyond 2 dimensions."""
    plt = _pyplot()
    codes = _codes(vae, images)
    if codes.shape[1] > 2:
        centred = codes - codes.mean(axis=0)
        _, singular, vt = np.linalg.svd(centred, full_matrices=False)
        points = centred @ vt[:2].T
        share = singular[:2] ** 2 / np.sum(singular**2)
        xlabel = f"PC 1 ({share[0]:.0%} of variance)"
        ylabel = f"PC 2 ({share[1]:.0%} of variance)"
    else:
        points = np.pad(codes, ((0, 0), (0, 2 - codes.shape[1])))
        xlabel, ylabel = "z[0]", "z[1]"
    fig, ax = plt.subplots(figsize=(7, 6))
    scatter = ax.scatter(
        points[:, 0], points[:, 1], c=np.asarray(labels), s=6, cmap="tab10"
    )
    fig.colorbar(scatter, ax=ax, label="label")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"Latent space ({codes.shape[1]}-D posterior means)")
    return _save(fig, path)


def most_active_dims(vae, images, count=2):
    """The latent dimensions whose posterior mean varies most over `images`."""
    return [int(d) for d in np.argsort(-_codes(vae, images).var(axis=0))[:count]]


def _value_label(value):
    """`value` to one decimal, without the "-0.0" of tiny negative values."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def manifold(vae, path, n=15, dims=None, images=None):
    """The decoder over an n x n grid of the prior's quantiles (5% to 95%)
    in two latent dimensions, the others at the prior's mean: dims (0, 1)
    for a 2-D latent, else the two most active over `images`. For N(0, I)
    these are the standard-normal quantiles and 0; for a learned prior, the
    quantiles of each dimension's marginal, so the grid covers where the
    prior puts its mass."""
    plt = _pyplot()
    if dims is None:
        dims = (
            (0, 1)
            if vae.latent_dim == 2 or images is None
            else tuple(most_active_dims(vae, images))
        )
    means, log_vars = vae.prior_components()
    # Only the two swept dimensions: the bisection's cost grows with them.
    columns = list(dims)
    probs = np.linspace(0.05, 0.95, n)
    table = priors.marginal_quantiles(means[:, columns], log_vars[:, columns], probs)
    xs, ys = table[:, 0], table[::-1, 1]
    z = np.repeat(means.mean(axis=0, keepdims=True), n * n, axis=0)
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            z[i * n + j, dims[0]] = x
            z[i * n + j, dims[1]] = y
    fig, ax = plt.subplots(figsize=(8, 8))
    height, width = vae.image_shape[:2]
    grid = make_grid(vae.decode(z), columns=n, pad=0)
    _imshow(ax, grid)
    ticks = np.arange(n) * width + width / 2
    ax.set_xticks(ticks, [_value_label(q) for q in xs], fontsize=7)
    ax.set_yticks(
        np.arange(n) * height + height / 2, [_value_label(q) for q in ys], fontsize=7
    )
    ax.set_xlabel(f"z[{dims[0]}]")
    ax.set_ylabel(f"z[{dims[1]}]")
    ax.set_title("Decoded latent manifold (the prior's 5%-95% quantiles)")
    return _save(fig, path)


def _slerp(a, b, t):
    unit_a, unit_b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    omega = np.arccos(np.clip(np.dot(unit_a, unit_b), -1.0, 1.0))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def interpolation(vae, first, second, path, steps=10):
    """Decodes codes between two images' posterior means: a linear row and a
    spherical (slerp) row."""
    a, b = _codes(vae, np.stack([first, second]))
    ts = np.linspace(0.0, 1.0, steps)
    linear = np.stack([(1 - t) * a + t * b for t in ts]).astype("float32")
    spherical = np.stack([_slerp(a, b, t) for t in ts]).astype("float32")
    return _grid_figure(
        [vae.decode(linear), vae.decode(spherical)],
        "Interpolation between two images",
        ["linear", "spherical"],
        path,
    )


def attribute_vector(vae, images, labels, source, target):
    """Mean code of label `target` minus mean code of label `source`."""
    codes, labels = _codes(vae, images), np.asarray(labels)
    for label in (source, target):
        if not np.any(labels == label):
            raise ValueError(
                f"No image has label {label!r}; labels present: "
                f"{sorted(set(labels.tolist()))}"
            )
    return codes[labels == target].mean(axis=0) - codes[labels == source].mean(axis=0)


def attribute(vae, images, labels, path, source, target, num=8):
    """Adds the `source -> target` attribute vector to images of `source`."""
    vector = attribute_vector(vae, images, labels, source, target)
    chosen = np.asarray(images, "float32")[np.asarray(labels) == source][:num]
    codes = _codes(vae, chosen)
    return _grid_figure(
        [chosen, vae.decode(codes), vae.decode((codes + vector).astype("float32"))],
        f"Attribute arithmetic: label {source} + (mean {target} - mean {source})",
        ["original", "reconstruction", f"+ vector -> {target}"],
        path,
    )


def traversals(vae, image, path, dims=None, values=None):
    """One row per latent dimension: the image's code with that dimension
    swept over `values`. By default each dimension sweeps the quantiles of
    its marginal under the prior at the standard-normal probabilities of
    -3, -2.25, ..., 3: for N(0, I) the values -3..3, for a learned prior the
    same share of its mass."""
    code = _codes(vae, np.asarray(image, "float32")[None])[0]
    dims = list(range(min(vae.latent_dim, 10))) if dims is None else list(dims)
    if values is None:
        probs = [statistics.NormalDist().cdf(v) for v in np.linspace(-3.0, 3.0, 9)]
        means, log_vars = vae.prior_components()
        table = priors.marginal_quantiles(means[:, dims], log_vars[:, dims], probs)
        title = "Latent traversals over the prior's quantiles (±3 normal sd)"
    else:
        table = np.repeat(np.asarray(values, "float64")[:, None], len(dims), 1)
        title = f"Latent traversals, values {table[0, 0]:g} .. {table[-1, 0]:g}"
    rows = []
    for column, d in enumerate(dims):
        z = np.repeat(code[None], len(table), axis=0)
        z[:, d] = table[:, column]
        rows.append(vae.decode(z.astype("float32")))
    labels = [
        f"z[{d}]\n{_value_label(table[0, c])}..{_value_label(table[-1, c])}"
        for c, d in enumerate(dims)
    ]
    return _grid_figure(rows, title, labels, path, width=8.0)


def read_history(history_csv):
    """Rows of a run's history.csv by epoch (a re-run epoch keeps its last row)."""
    with open(history_csv, newline="") as f:
        rows = {int(row["epoch"]): row for row in csv.DictReader(f)}
    if not rows:
        raise ValueError(f"{history_csv} has no epochs.")
    return [rows[e] for e in sorted(rows)]


def curves(history_csv, path):
    """Loss, reconstruction and KL per epoch, training and validation."""
    plt = _pyplot()
    rows = read_history(history_csv)
    epochs = [int(row["epoch"]) + 1 for row in rows]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, key in zip(axes, ("loss", "reconstruction", "kl"), strict=True):
        for prefix, style in (("", "-"), ("val_", "--")):
            if f"{prefix}{key}" in rows[0]:
                ax.plot(
                    epochs,
                    [float(r[f"{prefix}{key}"]) for r in rows],
                    style,
                    label="validation" if prefix else "training",
                )
        ax.set_title(key)
        ax.set_xlabel("epoch")
        ax.set_ylabel("nats per example")
        ax.legend()
    fig.suptitle("Training curves")
    fig.tight_layout()
    return _save(fig, path)


def latent_sizes(sizes, neg_elbos, images, reconstructions, path):
    """Test negative ELBO against the latent size, above the same images
    reconstructed by the model of each size (`reconstructions[i]` for
    `sizes[i]`)."""
    plt = _pyplot()
    fig = plt.figure(figsize=(10, 4 + 1.2 * len(sizes)))
    grid = fig.add_gridspec(
        2 + len(sizes), 1, height_ratios=[4] + [1] * (len(sizes) + 1)
    )
    ax = fig.add_subplot(grid[0])
    ax.plot(sizes, neg_elbos, "o-")
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(k) for k in sizes])
    ax.set_xlabel("latent size")
    ax.set_ylabel("test negative ELBO (nats)")
    ax.set_title("Effect of the latent size")
    rows = [("original", images)] + [
        (f"latent {k}", r) for k, r in zip(sizes, reconstructions, strict=True)
    ]
    for i, (label, row) in enumerate(rows):
        axis = fig.add_subplot(grid[1 + i])
        _imshow(axis, make_grid(np.asarray(row), columns=len(row)))
        axis.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    return _save(fig, path)
