"""TensorFlow Datasets: `tfds:<name>[/<config>]`."""

from keras_vae.data.errors import DataError


def tfds_split(spec, split, validation_fraction, available=()):
    """The TFDS split string for a parsed split.

    With `validation_fraction > 0`, "validation" is the last fraction of train
    and "train" the rest (TFDS percent slicing, so the fraction must be a
    whole percent). Otherwise "validation" is the data set's own split.
    Explicit slices such as "train[:90%]" index the whole split, as in TFDS.
    """
    base, start, stop = split
    bounds = f"[{start or ''}:{stop or ''}]" if (start or stop) else ""
    carve = validation_fraction and base in ("train", "validation")
    if carve and not (base == "train" and bounds):
        percent = round(validation_fraction * 100)
        if bounds or abs(percent - validation_fraction * 100) > 1e-9:
            raise DataError(
                spec,
                "TFDS carve-outs take a whole-percent validation_fraction and no "
                f"slice. Received: split={base + bounds!r}, "
                f"validation_fraction={validation_fraction}",
            )
        if base == "validation":
            return f"train[{100 - percent}%:]"
        return f"train[:{100 - percent}%]"
    if base == "validation" and available and "validation" not in available:
        raise DataError(
            spec,
            "this data set has no 'validation' split; pass validation_fraction "
            "(e.g. 0.1) to carve one out of train, to both the train and the "
            "validation load.",
        )
    return base + bounds


def tfds_examples(spec, name, split, *, validation_fraction, data_dir, shuffle_files):
    """`(dataset of feature dicts, features, examples or None)`; downloads if
    needed. The count is None where TFDS does not know it."""
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as error:  # noqa: BLE001 - TFDS raises many kinds
        raise DataError(spec, f"unknown TFDS data set {name!r}: {error}") from error
    names = list(builder.info.features)
    if "image" not in names:
        raise DataError(spec, f"{name} has no 'image' feature. Its features: {names}")
    read = tfds_split(spec, split, validation_fraction, tuple(builder.info.splits))
    try:
        builder.download_and_prepare()
        ds = builder.as_dataset(split=read, shuffle_files=bool(shuffle_files))
    except Exception as error:  # noqa: BLE001 - network, disk, missing data
        raise DataError(
            spec, f"TFDS could not load {name} [{read}]: {error}"
        ) from error
    try:
        count = int(builder.info.splits[read].num_examples) or None
    except (KeyError, ValueError, TypeError):
        count = None
    return ds, builder.info.features, count
