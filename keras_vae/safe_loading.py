"""`load_model`: opens `.keras` files with checks Keras itself does not make.

Keras reports a missing, empty, truncated or garbage file all as "File not
found", and a truncated weights file as an h5py OSError. This loader looks at
the file first and says what is wrong, refuses legacy HDF5 files (which
ignore `safe_mode`), path-traversal members and zip bombs, can check a SHA-256,
and always loads with `safe_mode=True`.
"""

import hashlib
import os
import zipfile

import keras

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
MAX_UNPACKED_BYTES = 8 * 1024**3
MAX_RATIO = 200  # unpacked / packed, beyond which an archive is a zip bomb


class ModelFileError(ValueError):
    """A model file that keras_vae refuses to load; the message says why."""


def sha256_of(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def check_archive(path):
    """Raises FileNotFoundError or ModelFileError unless `path` looks like a
    sound `.keras` archive. Reads only the zip directory and CRCs."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"No model file at {path}.")
    if os.path.isdir(path):
        raise ModelFileError(
            f"{path} is a directory; expected a .keras file (SavedModels are for "
            "serving, not for loading back into Keras)."
        )
    size = os.path.getsize(path)
    if size == 0:
        raise ModelFileError(f"{path} is empty (0 bytes); expected a .keras archive.")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(HDF5_MAGIC) or path.lower().endswith((".h5", ".hdf5")):
        raise ModelFileError(
            f"{path} is a legacy HDF5 model. keras_vae refuses .h5 files: Keras "
            "loads them without safe_mode (CVE-2025-9905). Re-save it as .keras "
            "from a trusted environment."
        )
    if not zipfile.is_zipfile(path):
        if head.startswith(ZIP_MAGIC):
            raise ModelFileError(
                f"{path} is a truncated .keras archive ({size} bytes; its zip "
                "directory is missing). Copy or save it again."
            )
        raise ModelFileError(
            f"{path} is not a .keras archive (not a zip file; starts with "
            f"{head[:4]!r})."
        )
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        for member in members:
            name = member.filename
            if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split(
                "/"
            ):
                raise ModelFileError(
                    f"{path} has a member with an unsafe path: {name!r}; refused."
                )
        unpacked = sum(m.file_size for m in members)
        if unpacked > MAX_UNPACKED_BYTES or unpacked > MAX_RATIO * max(size, 1):
            raise ModelFileError(
                f"{path} unpacks to {unpacked} bytes from {size}: a zip bomb or not "
                "a model; refused."
            )
        names = {m.filename for m in members}
        if "config.json" not in names:
            raise ModelFileError(
                f"{path} is a zip file but not a .keras archive (no config.json; "
                f"members: {sorted(names)[:5]})."
            )
        broken = archive.testzip()
        if broken is not None:
            raise ModelFileError(
                f"{path} is corrupt: member {broken!r} fails its CRC check."
            )


def load_model(path, sha256=None):
    """Loads a `.keras` file with `safe_mode=True` after checking it.

    Args:
        path: the `.keras` file.
        sha256: expected hex digest (e.g. from an export's manifest.json), or
            None.

    Raises:
        FileNotFoundError: no file at `path`.
        ModelFileError (a ValueError): anything else that is wrong, with the
            reason: empty, truncated, not a zip, HDF5, unsafe members,
            SHA-256 mismatch, truncated weights, or refused by safe mode.
    """
    path = os.fspath(path)
    check_archive(path)
    if sha256 is not None:
        actual = sha256_of(path)
        if actual != sha256.lower():
            raise ModelFileError(
                f"{path} has SHA-256 {actual}, but {sha256} was expected: the file "
                "changed since it was exported; refused."
            )
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except OSError as error:
        raise ModelFileError(
            f"{path}: its weights file is truncated or corrupt ({error})."
        ) from error
    except (ValueError, TypeError) as error:
        raise ModelFileError(
            f"{path} was refused or could not be read: {error}"
        ) from error
