"""The torch backend on the CPU against CUDA, for one workload: the same
initial weights (drawn on the CPU), batch and sampling noise on each device.

1. One forward and backward pass: the loss, each layer's largest output
   difference and each weight gradient's relative difference.
2. `--steps` steps of `fit` on each device (no shuffling, the same noise
   stream): the last training loss and the loss on held-out images.

Equal figures mean the package computes the same thing on both devices, so a
gap between whole runs comes from elsewhere (session 11: from the initial
weights and data order of particular seeds; benchmarks/RESULTS.md, GPU).
Without a GPU it compares the CPU with itself (the smoke test).

    KERAS_BACKEND=torch python benchmarks/torch_devices.py --data_dir=...

Prints one `RESULT {json}` line.
"""

import common
import keras
import numpy as np
from absl import app
from absl import flags

import keras_vae

BATCH = 128  # every workload's batch here, dcgan's too
FLAGS = flags.FLAGS
flags.DEFINE_enum("workload", "conv", list(common.MODELS), "Model workload.")
flags.DEFINE_integer("steps", 300, "Fit steps on each device.")
flags.DEFINE_integer("held_out", 5000, "Training images held out for the loss.")
flags.DEFINE_string("data_dir", None, "Fashion-MNIST IDX folder (see common.py).")


def _build(seed=None):
    latent = common.MODELS[FLAGS.workload]["latent_dim"]
    return keras_vae.build_vae(FLAGS.workload, (28, 28, 1), latent, seed=seed)


def _fixed_noise(device, seed):
    """The sampling noise from one NumPy stream, the same on every device."""
    import torch

    rng = np.random.default_rng(seed)
    common.draw_sampling_noise_with(
        lambda shape: torch.from_numpy(rng.standard_normal(shape).astype("float32")),
        device,
    )


def _one_pass(device, weights, batch):
    """Loss, layer outputs and weight gradients of one pass on `device`."""
    import torch

    with keras.device(device):
        _fixed_noise(device, 0)
        vae = _build()
        vae.set_weights(weights)
        x = torch.tensor(batch, device=device)
        outputs = vae(x, training=True)
        loss = vae.compute_loss(x=x, y_pred=outputs)
        loss.backward()
        grads = [v.value.grad.detach().cpu().numpy() for v in vae.trainable_variables]
        layers = {}
        for part, inputs in (("encoder", x), ("decoder", outputs["z_mean"])):
            model = getattr(vae, part)
            probe = keras.Model(model.inputs, [la.output for la in model.layers[1:]])
            for i, value in enumerate(probe(inputs)):
                layers[f"{part}/{i}"] = value.detach().cpu().numpy()
        names = [v.path for v in vae.trainable_variables]
    return float(loss.detach()), layers, grads, names


def _fit(device, weights, train, held_out):
    with keras.device(device):
        _fixed_noise(device, 1)
        vae = _build()
        vae.set_weights(weights)
        vae.compile(optimizer=keras.optimizers.Adam(1e-3))
        history = vae.fit(train, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
        logs = vae.evaluate(held_out, batch_size=500, verbose=0, return_dict=True)
    return {
        "device": device,
        "train_loss": round(history.history["loss"][-1], 3),
        "held_out_loss": round(logs["loss"], 3),
        "held_out_kl": round(logs["kl"], 3),
    }


def main(argv):
    del argv
    if keras.backend.backend() != "torch":
        raise ValueError(
            "torch_devices.py compares the torch backend's devices. Received: "
            f"KERAS_BACKEND={keras.backend.backend()}"
        )
    import torch

    other = "cuda" if torch.cuda.is_available() else "cpu"
    count = BATCH * FLAGS.steps + FLAGS.held_out
    folder = common.data_dir(FLAGS.data_dir)
    images = common.read_unit_images(folder, "train", count)
    if len(images) < count:
        raise ValueError(
            f"--steps={FLAGS.steps} and --held_out={FLAGS.held_out} need {count} "
            f"training images. Received: {len(images)} in {folder}"
        )
    keras.utils.set_random_seed(0)
    with keras.device("cpu"):
        weights = _build(seed=0).get_weights()
    cpu_loss, cpu_layers, cpu_grads, names = _one_pass("cpu", weights, images[:BATCH])
    loss, layers, grads, _ = _one_pass(other, weights, images[:BATCH])
    layer_diffs = {
        name: [
            float(np.abs(cpu_layers[name] - layers[name]).max()),
            float(np.abs(cpu_layers[name]).max()),
        ]
        for name in cpu_layers
    }
    grad_diffs = {
        name: float(np.linalg.norm(a - b) / max(np.linalg.norm(a), 1e-30))
        for name, a, b in zip(names, cpu_grads, grads, strict=True)
    }
    train, held_out = images[: BATCH * FLAGS.steps], images[-FLAGS.held_out :]
    common.emit(
        {
            "impl": "torch_devices",
            "backend": "torch",
            "workload": FLAGS.workload,
            "devices": ["cpu", other],
            "loss": [cpu_loss, loss],
            # [max |cpu - other|, max |cpu|] per layer output
            "layer_max_diff": layer_diffs,
            "grad_relative_diff": grad_diffs,
            "fit": [_fit(d, weights, train, held_out) for d in ("cpu", other)],
        }
    )


if __name__ == "__main__":
    app.run(main)
