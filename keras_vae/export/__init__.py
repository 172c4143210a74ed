"""Serving artifacts: TF Serving SavedModels, `.keras` files, ONNX, manifest."""

from keras_vae.export.exporter import export
from keras_vae.export.exporter import models_config

__all__ = ["export", "models_config"]
