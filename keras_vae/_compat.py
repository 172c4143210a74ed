"""Refuses Keras versions without the safe-loading fixes keras_vae relies on."""

import keras
from packaging.version import InvalidVersion
from packaging.version import Version

MIN_KERAS = "3.15.1"


def check_keras_version(version=None):
    """Raises ImportError unless Keras is at least `MIN_KERAS` (pre-releases of
    3.15.1 included: they predate the fixes)."""
    version = keras.__version__ if version is None else version
    try:
        recent = Version(version) >= Version(MIN_KERAS)
    except InvalidVersion:
        recent = False
    if not recent:
        raise ImportError(
            f"keras_vae needs keras>={MIN_KERAS} (it carries the safe-loading "
            f"fixes for .keras files). Received: keras=={version}. "
            f"Upgrade with `pip install -U 'keras>={MIN_KERAS}'`."
        )
