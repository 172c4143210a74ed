"""Random flagfiles for `scripts/train.py`: each parses into a valid
`TrainConfig` or is refused with absl's flag error or the config's
`ValueError`, never another exception."""

import importlib.util
import os
import sys
import tempfile

from absl import flags
from conftest import REPO
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st


def _script_module():
    """scripts/train.py, loaded once per process (its absl flags are global;
    tests/test_train_script.py shares this module under the same name)."""
    name = "keras_vae_train_script"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, os.path.join(REPO, "scripts", "train.py")
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


train = _script_module()
NAMES = list(train._NAMES)
COUNT = {"files": 0, "refused": 0}

values = st.one_of(
    st.integers(-3, 300).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        ["mlp", "conv", "dcgan", "dynamic", "none", "cosine", "jax", "1,2", "", "x"]
    ),
    st.text(max_size=8),
)
flag_lines = st.builds(lambda n, v: f"--{n}={v}", st.sampled_from(NAMES), values)
lines = st.one_of(
    flag_lines,
    flag_lines,
    st.sampled_from(["# comment", "", "--nobogus", "--undefined=1", "-x"]),
    st.text(max_size=20).filter(lambda t: "\n" not in t and "\r" not in t),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(lines, max_size=8))
def test_a_flagfile_parses_or_is_refused_with_a_flag_error(content):
    COUNT["files"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "run.flags")
        with open(path, "w") as f:
            f.write("--workdir=" + os.path.join(tmp, "w") + "\n")
            f.write("\n".join(content) + "\n")
        try:
            train.FLAGS(["train.py", f"--flagfile={path}"])
            config = train.config_from_flags()
        except (flags.Error, ValueError) as error:
            COUNT["refused"] += 1
            assert str(error)
            return
        finally:
            train.FLAGS.unparse_flags()
    assert config.validate() is config
    assert config.epochs >= 1 and config.batch_size >= 1


def test_report_counts():
    print(f"\nflagfiles: {COUNT['files']} tried, {COUNT['refused']} refused")
    assert COUNT["files"] == 0 or 0 < COUNT["refused"] < COUNT["files"]
