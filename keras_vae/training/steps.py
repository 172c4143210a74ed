"""Counting an epoch's finished steps from Keras's batch callbacks."""


def steps_finished(batch, params):
    """Steps of the epoch finished when Keras calls `on_*_batch_end(batch)`.

    With `steps_per_execution` > 1 Keras calls back once per call, with
    `batch` the index of the call's last step, past the epoch's end for a
    short last call; `params["steps"]` (the epoch's steps) caps it."""
    steps = (params or {}).get("steps")
    return min(batch + 1, steps) if steps else batch + 1
