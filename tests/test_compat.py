import pytest

from keras_vae import _compat


@pytest.mark.parametrize(
    "version", ["3.15.0", "3.14.1", "2.15.0", "3.15.0rc1", "3.15.1rc1"]
)
def test_old_keras_is_refused_with_upgrade_hint(version):
    with pytest.raises(ImportError, match=r"keras>=3\.15\.1.*keras==" + version):
        _compat.check_keras_version(version)


@pytest.mark.parametrize("version", ["3.15.1", "3.16.0", "4.0.0", "3.15.2.dev0"])
def test_recent_keras_is_accepted(version):
    _compat.check_keras_version(version)
