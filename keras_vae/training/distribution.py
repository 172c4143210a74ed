"""`--distribution`: the engines' own data parallelism, chosen by name."""

import contextlib
import json
import os

import keras


def _need(backend, mode):
    if keras.backend.backend() != backend:
        raise ValueError(
            f"--distribution={mode} needs KERAS_BACKEND={backend}. Received: "
            f"KERAS_BACKEND={keras.backend.backend()}"
        )


def distribution_scope(mode):
    """A context in which to build and compile the model.

    - "mirrored": `tf.distribute.MirroredStrategy` over all local GPUs, or all
      logical CPU devices when there is no GPU.
    - "multi_worker": `tf.distribute.MultiWorkerMirroredStrategy`, cluster
      from `TF_CONFIG`.
    - "data_parallel": `keras.distribution.DataParallel` over all JAX devices.
    """
    if mode == "none":
        return contextlib.nullcontext()
    if mode in ("mirrored", "multi_worker"):
        _need("tensorflow", mode)
        import tensorflow as tf

        if mode == "multi_worker":
            return tf.distribute.MultiWorkerMirroredStrategy().scope()
        devices = tf.config.list_logical_devices(
            "GPU"
        ) or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices]).scope()
    if mode == "data_parallel":
        _need("jax", mode)
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        return contextlib.nullcontext()
    raise ValueError(f"Unknown --distribution. Received: {mode!r}")


def replicas(model):
    """How many replicas share each global batch when `model` trains."""
    if keras.backend.backend() == "tensorflow":
        return model.distribute_strategy.num_replicas_in_sync
    distribution = keras.distribution.distribution()
    if distribution is not None:
        return len(distribution.device_mesh.devices.flatten())
    return 1


def worker_role():
    """`(is_chief, task index)` of this process in a `TF_CONFIG` cluster.

    The chief is the "chief" task, or worker 0 when the cluster has none.
    Without `TF_CONFIG` the process is the chief.
    """
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task", {})
    kind, index = task.get("type", "chief"), int(task.get("index", 0))
    has_chief = "chief" in config.get("cluster", {})
    return kind == "chief" or (kind == "worker" and index == 0 and not has_chief), index
