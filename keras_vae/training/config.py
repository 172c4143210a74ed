"""`TrainConfig`: everything a training run needs, validated before it starts."""

import dataclasses
import json
import os

from keras_vae import likelihoods
from keras_vae import priors
from keras_vae.architectures import ARCHITECTURES

MIXED_PRECISION = ("none", "mixed_float16", "mixed_bfloat16")
DISTRIBUTION = ("none", "mirrored", "multi_worker", "data_parallel")
BINARIZE = ("none", "static", "dynamic", "threshold")
LR_SCHEDULES = ("constant", "cosine")
# Fields that may change when a run is continued in the same workdir.
RESUMABLE = ("workdir", "epochs", "verbose", "backend", "export_dir", "model_name")


@dataclasses.dataclass
class TrainConfig:
    """A training run. Defaults are the project's Fashion-MNIST recipe."""

    workdir: str
    dataset: str = "fashion_mnist"
    split: str = "train"
    validation_fraction: float = 0.1
    image_size: int | None = None
    binarize: str = "none"
    arch: str = "mlp"
    latent_dim: int | None = None
    hidden_units: tuple = (400,)
    # The MLP encoder's own sizes (None: `hidden_units`, mirrored).
    encoder_units: tuple | None = None
    likelihood: str = "bernoulli"
    beta: float = 1.0
    free_bits: float = 0.0
    # "vamp": a VampPrior of `prior_components` pseudo-inputs.
    prior: str = "standard_normal"
    prior_components: int = 500
    kl_warmup_epochs: int = 0
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    # "cosine": decays to `learning_rate * min_lr_fraction` over all epochs.
    lr_schedule: str = "constant"
    min_lr_fraction: float = 0.01
    # > 0: Adam keeps an exponential moving average of the weights (Keras's
    # `use_ema`), which validation uses and which the final model holds.
    ema_momentum: float = 0.0
    # Steps per compiled call (TF/JAX; PyTorch always runs 1). Callbacks see
    # every `steps_per_execution` steps; epochs end on time.
    steps_per_execution: int = 50
    max_examples: int | None = None
    # Hold the training split on the accelerator (`keras_vae.data.
    # DeviceBatches`): shuffled, batched and dynamically binarized there, for
    # JAX and PyTorch on a GPU, where feeding batches from the host bounds
    # small models. Validation and test data stay tf.data pipelines.
    data_on_device: bool = False
    seed: int = 0
    # Deterministic ops (TensorFlow's op determinism, PyTorch's deterministic
    # algorithms): with a fixed seed, a killed and resumed run ends with the
    # same weights as an uninterrupted one.
    deterministic: bool = False
    mixed_precision: str = "none"
    distribution: str = "none"
    backend: str | None = None
    verbose: int = 1
    export_dir: str | None = "saved_models"  # None or "": no export
    model_name: str = "vae"

    def validate(self):
        """Raises ValueError naming the first bad field and its value."""

        def bad(name, expected):
            value = getattr(self, name)
            raise ValueError(f"--{name} must be {expected}. Received: {value!r}")

        if not self.workdir:
            bad("workdir", "a directory path")
        for name in ("epochs", "batch_size", "steps_per_execution", "prior_components"):
            if not _is_int(getattr(self, name)) or getattr(self, name) < 1:
                bad(name, "an int >= 1")
        if not _is_int(self.kl_warmup_epochs) or self.kl_warmup_epochs < 0:
            bad("kl_warmup_epochs", "an int >= 0")
        for name in ("latent_dim", "image_size", "max_examples"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 1):
                bad(name, "empty or an int >= 1")
        if not _are_sizes(self.hidden_units):
            bad("hidden_units", "a list of ints >= 1")
        if self.encoder_units is not None and not _are_sizes(self.encoder_units):
            bad("encoder_units", "empty or a list of ints >= 1")
        if self.encoder_units is not None and self.arch != "mlp":
            bad("encoder_units", f"empty for --arch={self.arch} (mlp only)")
        if not self.model_name or not all(
            c.isalnum() or c in "_-." for c in self.model_name
        ):
            bad("model_name", "letters, digits, '_', '-' or '.'")
        if not self.learning_rate > 0:
            bad("learning_rate", "> 0")
        for name in ("beta", "free_bits"):
            if not getattr(self, name) >= 0:
                bad(name, ">= 0")
        if not 0 < self.min_lr_fraction <= 1:
            bad("min_lr_fraction", "in (0, 1]")
        if not 0 <= self.ema_momentum < 1:
            bad("ema_momentum", "in [0, 1) (0: no moving average)")
        if not 0 <= self.validation_fraction < 1:
            bad("validation_fraction", "in [0, 1)")
        for name, choices in (
            ("arch", tuple(ARCHITECTURES)),
            ("likelihood", likelihoods.NAMES),
            ("mixed_precision", MIXED_PRECISION),
            ("distribution", DISTRIBUTION),
            ("binarize", BINARIZE),
            ("lr_schedule", LR_SCHEDULES),
            ("prior", priors.NAMES),
        ):
            if getattr(self, name) not in choices:
                bad(name, f"one of {list(choices)}")
        if self.data_on_device and self.distribution != "none":
            bad(
                "data_on_device",
                f"false with --distribution={self.distribution} (it holds "
                "the data on one device)",
            )
        if self.free_bits and self.prior != "standard_normal":
            bad(
                "free_bits", "0 with --prior=vamp (free bits split the KL by dimension)"
            )
        return self

    @classmethod
    def from_dict(cls, values):
        """The inverse of `to_dict` (JSON lists back to tuples)."""
        values = dict(values)
        for name in _SIZE_FIELDS:
            if values.get(name) is not None:
                values[name] = tuple(values[name])
        return cls(**values)

    def to_dict(self):
        value = dataclasses.asdict(self)
        for name in _SIZE_FIELDS:
            if value[name] is not None:
                value[name] = list(value[name])
        return value

    def check_compatible(self, path):
        """Raises ValueError if the run saved at `path` differs in a field
        that cannot change when a run is continued."""
        if not os.path.exists(path):
            return
        with open(path) as f:
            saved = json.load(f)
        mine = self.to_dict()
        # A field added after the run was saved holds its default there.
        defaults = TrainConfig(workdir="").to_dict()
        saved = {**defaults, **saved}
        changed = sorted(
            key
            for key in set(saved) | set(mine)
            if key not in RESUMABLE and saved.get(key) != mine.get(key)
        )
        if changed:
            details = ", ".join(
                f"--{k}: {saved.get(k)!r} -> {mine.get(k)!r}" for k in changed
            )
            raise ValueError(
                f"The workdir {self.workdir} holds a run with other settings "
                f"({details}). Use a new --workdir, or the run's own flags "
                f"(--flagfile={os.path.join(self.workdir, 'flags.txt')})."
            )


# Tuples in a TrainConfig, lists in its JSON.
_SIZE_FIELDS = ("hidden_units", "encoder_units")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _are_sizes(values):
    return bool(values) and all(_is_int(u) and u > 0 for u in values)
