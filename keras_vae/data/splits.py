"""Split names: `train`, `test`, `validation` and TFDS-style slices."""

import re

_SPLIT = re.compile(
    r"^(?P<name>train|test|validation)"
    r"(?:\[(?P<start>-?\d+%?)?:(?P<stop>-?\d+%?)?\])?$"
)

SPLITS = ("train", "test", "validation")


def parse_split(split):
    """`"train[:90%]"` -> `("train", ":90%" bounds)`; None if malformed."""
    match = _SPLIT.match(split) if isinstance(split, str) else None
    if match is None:
        return None
    return match["name"], match["start"], match["stop"]


def _bound(text, n):
    if text is None:
        return None
    if text.endswith("%"):
        return int(round(n * int(text[:-1]) / 100))
    return int(text)


def split_range(split, n_train, n_test, validation_fraction):
    """Resolves a parsed split to `(base, start, stop)` indices of an array.

    `base` is "train" or "test". Slices index the whole base split, as in
    TFDS. Without a slice, "validation" is the last `validation_fraction` of
    train and "train" is the rest, so the two never overlap.
    """
    name, start, stop = split
    n_val = int(round(n_train * validation_fraction))
    if name == "test":
        n = n_test
        window = (0, n)
    elif name == "train":
        n = n_train
        window = (0, n_train if start or stop else n_train - n_val)
    else:
        n = n_val
        window = (n_train - n_val, n_train)
    lo, hi, _ = slice(_bound(start, n), _bound(stop, n)).indices(window[1] - window[0])
    return ("test" if name == "test" else "train"), window[0] + lo, window[0] + hi
