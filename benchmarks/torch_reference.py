"""The hand-written PyTorch baseline: the same models, loss and optimizer as
the package's workloads, in the plain loop a user would write.

Data is held in memory as one float tensor and batched by slicing a fresh
permutation each epoch (faster than a `DataLoader` over PIL images, as in the
PyTorch examples, so the reference is not handicapped). Weights start as
Keras starts them (Glorot-uniform kernels, zero biases), so both sides train
the same model from the same distribution; `"reference_init": "torch"` keeps
PyTorch's defaults instead. Benchmark code only; not part of the package.
"""

import time

STARTED = time.perf_counter()

import common  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

IMPORT_S = time.perf_counter() - STARTED
MARK_EVERY = 50  # steps between clock marks (the package's steps_per_execution)


class MLP(nn.Module):
    """784-400-20, ReLU (pytorch/examples vae)."""

    def __init__(self, latent, hidden=400, pixels=784):
        super().__init__()
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(pixels, hidden), nn.ReLU())
        self.mean, self.log_var = nn.Linear(hidden, latent), nn.Linear(hidden, latent)
        self.dec = nn.Sequential(
            nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, pixels)
        )

    def decode(self, z):
        return self.dec(z).view(-1, 1, 28, 28)


class Conv(nn.Module):
    """The keras.io conv VAE: Conv 32, 64 (3x3, stride 2), Dense, mirror."""

    def __init__(self, latent, filters=(32, 64)):
        super().__init__()
        dense = max(16, 2 * latent)
        self.enc = nn.Sequential(
            nn.Conv2d(1, filters[0], 3, 2, 1),
            nn.ReLU(),
            nn.Conv2d(filters[0], filters[1], 3, 2, 1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(7 * 7 * filters[1], dense),
            nn.ReLU(),
        )
        self.mean, self.log_var = nn.Linear(dense, latent), nn.Linear(dense, latent)
        self.dec = nn.Sequential(
            nn.Linear(latent, 7 * 7 * filters[1]),
            nn.ReLU(),
            nn.Unflatten(1, (filters[1], 7, 7)),
            nn.ConvTranspose2d(filters[1], filters[1], 3, 2, 1, output_padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(filters[1], filters[0], 3, 2, 1, output_padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(filters[0], 1, 3, 1, 1),
        )

    def decode(self, z):
        return self.dec(z)


class DCGAN(nn.Module):
    """Conv(4x4, s2)-BN-LeakyReLU(0.2) down, ConvTranspose-BN-ReLU up."""

    def __init__(self, latent, base=64):
        super().__init__()
        self.enc = nn.Sequential(
            nn.Conv2d(1, base, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(base, 2 * base, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * base, momentum=0.1, eps=1e-3),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
        )
        features = 7 * 7 * 2 * base
        self.mean = nn.Linear(features, latent)
        self.log_var = nn.Linear(features, latent)
        self.dec = nn.Sequential(
            nn.Linear(latent, features, bias=False),
            nn.Unflatten(1, (2 * base, 7, 7)),
            nn.BatchNorm2d(2 * base, momentum=0.1, eps=1e-3),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * base, base, 4, 2, 1, bias=False),
            nn.BatchNorm2d(base, momentum=0.1, eps=1e-3),
            nn.ReLU(),
            nn.ConvTranspose2d(base, 1, 4, 2, 1),
        )

    def decode(self, z):
        return self.dec(z)


MODELS = {"mlp": MLP, "conv": Conv, "dcgan": DCGAN}
# How the convolutions' tensors lie in memory. PyTorch's default, the loop a
# user writes plainly, is NCHW ("channels_first"); `channels_last` (NHWC) is
# the opt-in layout PyTorch's performance guide recommends, the same one
# TensorFlow and Keras use.
MEMORY_FORMATS = {
    "channels_first": torch.contiguous_format,
    "channels_last": torch.channels_last,
}


def keras_init(model):
    """Glorot-uniform weights and zero biases, as Keras's Dense, Conv2D and
    Conv2DTranspose default to (BatchNorm's defaults already agree)."""
    for layer in model.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def to_memory_format(model, name):
    """Lays the model's 4-D weights out as `name` says, in place; returns the
    `torch.memory_format` its input batches should take too."""
    if name not in MEMORY_FORMATS:
        raise ValueError(
            f"memory_format must be one of {sorted(MEMORY_FORMATS)}. Received: {name!r}"
        )
    model.to(memory_format=MEMORY_FORMATS[name])
    return MEMORY_FORMATS[name]


def losses(model, x):
    """Per-batch means of the Bernoulli reconstruction NLL and KL (nats)."""
    h = model.enc(x)
    mean = model.mean(h)
    log_var = model.log_var(h).clamp(-30, 20)
    z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
    logits = model.decode(z)
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
    kl = -0.5 * torch.sum(1 + log_var - mean.square() - log_var.exp()) / len(x)
    return rec, kl


def main():
    spec = common.job_spec()
    torch.manual_seed(spec["seed"])
    folder = common.data_dir(spec.get("data_dir"))
    limit = spec.get("train_examples")
    train = common.read_images(folder, "train", limit)
    test = common.read_images(folder, "test", spec.get("test_examples"))
    # On a GPU the whole set lives on the device, as a hand-written loop has it.
    device = "cuda" if torch.cuda.is_available() else "cpu"
    train = torch.from_numpy(train.astype(np.float32) / 255).unsqueeze(1).to(device)
    test = torch.from_numpy(test.astype(np.float32) / 255).unsqueeze(1).to(device)

    clock = common.StepClock()
    model = MODELS[spec["workload"]](spec["latent_dim"]).to(device)
    init = spec.get("reference_init", "keras")
    if init == "keras":
        keras_init(model)
    elif init != "torch":
        raise ValueError(
            f"reference_init must be 'keras' or 'torch'. Received: {init!r}"
        )
    memory_format = spec.get("memory_format", "channels_first")
    layout = to_memory_format(model, memory_format)
    optimizer = torch.optim.Adam(model.parameters(), lr=spec["learning_rate"])
    batch, done, step = spec["batch_size"], 0, 0
    steps = spec.get("steps")
    epoch_s = []
    for _ in range(spec["epochs"]):
        epoch_start = time.perf_counter()
        model.train()
        order = torch.randperm(len(train), device=device)
        for start in range(0, len(train), batch):
            x = train[order[start : start + batch]].contiguous(memory_format=layout)
            rec, kl = losses(model, x)
            optimizer.zero_grad(set_to_none=True)
            (rec + kl).backward()
            optimizer.step()
            done += len(x)
            step += 1
            if step % MARK_EVERY == 0 or step == 1:
                float(rec)  # waits for the step, as the package's marks do
                clock.mark(done)
            if steps and (start // batch + 1) >= steps:
                break
        float(rec)
        clock.epoch_end(done)
        epoch_s.append(round(time.perf_counter() - epoch_start, 3))
    train_s = time.perf_counter() - clock.start

    model.eval()
    totals = np.zeros(2)
    with torch.no_grad():
        for start in range(0, len(test), 500):
            x = test[start : start + 500].contiguous(memory_format=layout)
            totals += [len(x) * float(t) for t in losses(model, x)]
    rec, kl = totals / len(test)
    common.emit(
        {
            "impl": "torch_reference",
            "backend": "torch",
            "torch_version": torch.__version__,
            "reference_init": init,
            "memory_format": memory_format,
            "threads": torch.get_num_threads(),
            "import_s": round(IMPORT_S, 3),
            "first_step_s": round(clock.first_step_s, 3),
            "images_per_sec": round(clock.images_per_sec or 0, 1),
            "train_s": round(train_s, 2),
            "epoch_s": epoch_s,
            "test_neg_elbo": round(rec + kl, 3),
            "test_reconstruction": round(rec, 3),
            "test_kl": round(kl, 3),
        }
    )


if __name__ == "__main__":
    main()
