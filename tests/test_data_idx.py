import gzip
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from keras_vae.data import idx


def idx_bytes(array, code=0x08):
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, code=0x08):
    data = idx_bytes(array, code)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)
    return str(path)


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_reads_plain_and_gzipped_files(tmp_path, name):
    array = np.arange(2 * 3 * 4, dtype="uint8").reshape(2, 3, 4)
    got = idx.read_idx(write_idx(tmp_path / name, array))
    np.testing.assert_array_equal(got, array)
    assert got.dtype == np.uint8


def test_reads_big_endian_floats_and_ints(tmp_path):
    floats = np.linspace(-1, 1, 6, dtype=">f4").reshape(2, 3)
    np.testing.assert_array_equal(
        idx.read_idx(write_idx(tmp_path / "f", floats, 0x0D)), floats
    )
    ints = np.array([1, -2, 300000], dtype=">i4")
    np.testing.assert_array_equal(
        idx.read_idx(write_idx(tmp_path / "i", ints, 0x0C)), ints
    )


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "wrong magic.*0x\\(empty\\)"),
        (b"\x00\x00\x07\x03" + b"\x00" * 12, "wrong magic.*0x00000703"),
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "wrong magic"),
        (b"\x00\x00\x08\x03\x00\x00", "truncated: its header declares 3"),
        (idx_bytes(np.zeros((2, 2, 2), "uint8"))[:-1], "truncated.*needs 8.*7 bytes"),
        (idx_bytes(np.zeros((2, 2), "uint8")) + b"\x00", "trailing bytes"),
    ],
)
def test_malformed_files_are_named_and_explained(tmp_path, data, message):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=f"{path}.*" + message.split(".*")[0]):
        idx.read_idx(str(path))
    with pytest.raises(ValueError, match=message):
        idx.read_idx(str(path))


def test_corrupt_gzip_and_missing_file(tmp_path):
    path = tmp_path / "x-idx3-ubyte.gz"
    path.write_bytes(b"\x1f\x8b\x08garbage")
    with pytest.raises(ValueError, match="cannot be read"):
        idx.read_idx(str(path))
    with pytest.raises(FileNotFoundError, match="IDX file not found"):
        idx.read_idx(str(tmp_path / "missing.gz"))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_parse_or_raise_value_error(data):
    try:
        array = idx.parse_idx(data)
    except ValueError:
        return
    assert isinstance(array, np.ndarray)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 4), min_size=1, max_size=3),
    st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]),
)
def test_well_formed_headers_round_trip(shape, code):
    dtype = np.dtype(idx._DTYPES[code])
    array = np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)
    np.testing.assert_array_equal(idx.parse_idx(idx_bytes(array, code)), array)
