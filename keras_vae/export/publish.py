"""Versioned, atomic publishing as TF Serving expects it.

TF Serving serves `<base_path>/<integer>/` folders and skips every other name,
so a version is written under a hidden non-numeric name and renamed to its
number only when complete: a crash mid-export leaves only whole versions.
"""

import os
import re
import shutil
import uuid

from keras_vae.training.atomic import is_stale

_TEMPORARY = re.compile(r"^\.tmp-\d+-(\d+)-[0-9a-f]{8}$")


def versions(base):
    """The integer versions present under `base`, sorted."""
    if not os.path.isdir(base):
        return []
    return sorted(int(name) for name in os.listdir(base) if name.isdigit())


def next_version(bases):
    """One more than the highest version under any of `bases` (1 if none)."""
    return max((v for base in bases for v in versions(base)), default=0) + 1


def remove_stale_temporaries(base):
    """Deletes the hidden folders of exports killed mid-write (their process
    is gone); TF Serving skips them, but they would pile up."""
    for name in os.listdir(base):
        if is_stale(_TEMPORARY, name):
            shutil.rmtree(os.path.join(base, name))


def publish(base, version, write):
    """Calls `write(folder)` on a temporary folder, then renames it to
    `base/<version>`. An existing version is never overwritten."""
    final = os.path.join(base, str(version))
    if os.path.exists(final):
        raise ValueError(
            f"Version {version} already exists at {final}; versions are never "
            "overwritten. Leave --version unset to publish the next one."
        )
    os.makedirs(base, exist_ok=True)
    remove_stale_temporaries(base)
    tmp = os.path.join(base, f".tmp-{version}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        write(tmp)
        os.rename(tmp, final)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
    return final
