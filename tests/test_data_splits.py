import pytest

from keras_vae.data import splits


@pytest.mark.parametrize(
    "split, n_train, n_test, fraction, expected",
    [
        ("train", 100, 20, 0.0, ("train", 0, 100)),
        ("test", 100, 20, 0.0, ("test", 0, 20)),
        ("train", 100, 20, 0.1, ("train", 0, 90)),
        ("validation", 100, 20, 0.1, ("train", 90, 100)),
        ("train[:90%]", 100, 20, 0.0, ("train", 0, 90)),
        ("train[90%:]", 100, 20, 0.0, ("train", 90, 100)),
        ("train[10:-10]", 100, 20, 0.0, ("train", 10, 90)),
        ("train[:50%]", 100, 20, 0.1, ("train", 0, 50)),  # slices index the whole split
        ("test[:5]", 100, 20, 0.0, ("test", 0, 5)),
        ("validation[:5]", 100, 20, 0.2, ("train", 80, 85)),
    ],
)
def test_split_ranges(split, n_train, n_test, fraction, expected):
    parsed = splits.parse_split(split)
    assert splits.split_range(parsed, n_train, n_test, fraction) == expected


@pytest.mark.parametrize(
    "split", ["dev", "train[", "train[a:b]", "", None, "train[:90%"]
)
def test_malformed_splits_parse_to_none(split):
    assert splits.parse_split(split) is None
