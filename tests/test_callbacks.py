import keras
import numpy as np
import pytest
from conftest import dataset
from conftest import tiny_vae

from keras_vae.callbacks import KLWarmup


def test_warmup_raises_the_weight_each_epoch_and_logs_it(images):
    vae = tiny_vae(beta=2.0)
    vae.compile()
    history = vae.fit(dataset(images), epochs=4, callbacks=[KLWarmup(2)], verbose=0)
    assert history.history["kl_weight"] == [0.0, 1.0, 2.0, 2.0]
    assert float(keras.ops.convert_to_numpy(vae.kl_weight)) == 2.0


def test_the_weight_set_by_the_callback_reaches_the_compiled_step(images):
    # Epoch 0 trains with weight 0, so its loss is the reconstruction alone;
    # epoch 1 adds the full KL. This proves the variable is read on every
    # backend (JAX keeps state outside the variables during fit).
    vae = tiny_vae(beta=1.0)
    vae.compile()
    history = vae.fit(dataset(images), epochs=2, callbacks=[KLWarmup(1)], verbose=0)
    logs = history.history
    assert logs["kl"][0] > 0
    assert logs["loss"][0] == pytest.approx(logs["reconstruction"][0], rel=1e-6)
    assert logs["loss"][1] == pytest.approx(
        logs["reconstruction"][1] + logs["kl"][1], rel=1e-5
    )


@pytest.mark.parametrize("epochs", [0, -1, 1.5, True])
def test_warmup_needs_a_positive_epoch_count(epochs):
    with pytest.raises(ValueError, match="epochs.*Received: epochs="):
        KLWarmup(epochs)


def test_kl_weight_is_not_trained(images):
    vae = tiny_vae(beta=0.7)
    vae.compile()
    vae.fit(dataset(images), epochs=1, verbose=0)
    assert np.isclose(float(keras.ops.convert_to_numpy(vae.kl_weight)), 0.7)
    assert all(w is not vae.kl_weight for w in vae.trainable_weights)
