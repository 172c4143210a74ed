import pytest

from keras_vae.training.steps import steps_finished


@pytest.mark.parametrize(
    "batch, params, expected",
    [
        (0, {"steps": 10}, 1),
        (3, {"steps": 10}, 4),
        (9, {"steps": 10}, 10),
        # A short last call of 4 steps per call reports its last step as 11.
        (11, {"steps": 10}, 10),
        # Unknown epoch length (a dataset of unknown cardinality): no cap.
        (11, {"steps": None}, 12),
        (11, {}, 12),
        (11, None, 12),
    ],
)
def test_steps_finished_counts_from_one_and_caps_at_the_epoch(batch, params, expected):
    assert steps_finished(batch, params) == expected
