"""MNIST-format IDX files (`train-images-idx3-ubyte[.gz]` and friends)."""

import gzip
import math
import os
import zlib

import numpy as np

# IDX type code -> big-endian NumPy dtype.
_DTYPES = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def _read_bytes(path):
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"IDX file not found: {path}") from None
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"IDX file {path} cannot be read: {error}") from error


def parse_idx(data, path="<bytes>"):
    """Parses the bytes of an IDX file into a NumPy array in native order."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        magic = data[:4].hex() or "(empty)"
        raise ValueError(
            f"IDX file {path} has a wrong magic number: expected 0x0000TTNN "
            f"(TT a type code in {sorted(hex(t) for t in _DTYPES)}, NN the "
            f"number of dimensions). Received: 0x{magic}"
        )
    dtype = np.dtype(_DTYPES[data[2]])
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise ValueError(
            f"IDX file {path} is truncated: its header declares {ndim} "
            f"dimension(s) but the file has {len(data)} bytes."
        )
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, offset=4))
    expected = math.prod(shape) * dtype.itemsize
    body = len(data) - header
    if body != expected:
        state = "is truncated" if body < expected else "has trailing bytes"
        raise ValueError(
            f"IDX file {path} {state}: shape {shape} of {dtype.name} needs "
            f"{expected} bytes of data. Received: {body} bytes."
        )
    array = np.frombuffer(data, dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def read_idx(path):
    """Reads an IDX file (optionally gzipped) into a NumPy array."""
    return parse_idx(_read_bytes(path), path)


def find_idx(directory, stem):
    """Path of `<stem>` or `<stem>.gz` in `directory`, or None."""
    for name in (stem, stem + ".gz"):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None
