"""Training runs: `TrainConfig` and `run(config)`, as scripts/train.py uses them."""

from keras_vae.training.config import TrainConfig
from keras_vae.training.run import run

__all__ = ["TrainConfig", "run"]
