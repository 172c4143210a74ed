"""Atomic file writes: a crash mid-write never destroys the previous file."""

import contextlib
import json
import os
import re
import tempfile

# `.<name>.<pid>.<8 random chars>.tmp<ext>`: what `atomic_path` writes.
_TEMPORARY = re.compile(r"^\..*\.(\d+)\.[a-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?$")


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; on success it replaces `path`.

    The temporary file lives in the same folder (same file system), is
    fsync'ed, then `os.replace`d over `path`; on error it is removed and
    `path` is left as it was.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    base, ext = os.path.splitext(os.path.basename(path))
    fd, tmp = tempfile.mkstemp(
        prefix=f".{base}.{os.getpid()}.", suffix=f".tmp{ext}", dir=folder
    )
    os.close(fd)
    try:
        try:
            yield tmp
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            # mkstemp makes the file private (0600); give it usual permissions.
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
        except OSError as error:  # e.g. disk full: name the file it was for
            raise OSError(
                error.errno,
                f"Could not write {path} ({error.strerror or error}); "
                "the previous file, if any, is unchanged",
            ) from error
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def is_stale(pattern, name):
    """Whether `name` is a temporary named by `pattern` (the writer's pid in
    group 1) whose writer is gone: killed mid-write, never to finish it."""
    match = pattern.match(name)
    return bool(match) and not process_alive(int(match.group(1)))


def remove_stale_temporaries(root):
    """Deletes the temporary files that writers killed mid-write (SIGKILL,
    power loss) left under `root`; those of live processes stay. Returns
    the paths removed."""
    removed = []
    for folder, _, names in os.walk(root):
        for name in names:
            if is_stale(_TEMPORARY, name):
                path = os.path.join(folder, name)
                os.remove(path)
                removed.append(path)
    return sorted(removed)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path, text):
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            f.write(text)


def write_json(path, value):
    write_text(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def save_model(model, path):
    """`model.save(path)` through a temporary `.keras` file."""
    with atomic_path(path) as tmp:
        model.save(tmp)
