"""The recipe search behind `configs/fashion_mnist_nll.flags` (run on the
H100 with JAX, four at a time; `results/h100_nll_recipe_search.jsonl`).

    python benchmarks/nll_search.py HIDDEN LATENT EPOCHS WARMUP CHECKS [cosine]
    e.g.  python benchmarks/nll_search.py 1024,1024 64 200 20 100,200 cosine

Trains an MLP VAE on dynamically binarized Fashion-MNIST (a new binarization
every epoch, NumPy arrays: no TensorFlow needed), and at each epoch in CHECKS
prints the one-sample test ELBO and the IWAE bound (K = 1000) on the 10,000
test images binarized once with seed 0.
"""

import json
import sys
import time

import common
import keras
import numpy as np

import keras_vae
from keras_vae import evaluation


def main(hidden, latent, epochs, warmup, checks, cosine):
    keras.utils.set_random_seed(0)
    folder = common.data_dir()
    train = common.read_unit_images(folder, "train")
    test = common.read_unit_images(folder, "test")
    rng = np.random.default_rng(0)
    test_bin = (rng.uniform(size=test.shape) < test).astype("float32")
    vae = keras_vae.build_vae("mlp", (28, 28, 1), latent, hidden_units=hidden, seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3), steps_per_execution=50)
    start = time.time()
    for epoch in range(1, epochs + 1):
        if cosine:
            rate = 1e-5 + 0.5 * (1e-3 - 1e-5) * (
                1 + np.cos(np.pi * (epoch - 1) / epochs)
            )
            vae.optimizer.learning_rate.assign(rate)
        if warmup:
            vae.kl_weight.assign(min(1.0, epoch / warmup))
        x = (rng.uniform(size=train.shape) < train).astype("float32")
        history = vae.fit(x, batch_size=128, epochs=1, shuffle=True, verbose=0)
        if epoch in checks:
            batches = [test_bin[i : i + 500] for i in range(0, len(test_bin), 500)]
            result = evaluation.evaluate(vae, batches, iwae_samples=1000)
            record = {
                "hidden": hidden,
                "latent": latent,
                "warm": warmup,
                "cosine": cosine,
                "epoch": epoch,
                "train_s": round(time.time() - start, 1),
                "neg_elbo": round(result["neg_elbo"], 2),
                "iwae_nll": round(result["iwae_nll"], 2),
                "active": result["active_units"],
                "train_loss": round(float(history.history["loss"][-1]), 2),
            }
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(
        hidden=tuple(int(h) for h in args[0].split(",")),
        latent=int(args[1]),
        epochs=int(args[2]),
        warmup=int(args[3]),
        checks={int(c) for c in args[4].split(",")},
        cosine=len(args) > 5 and args[5] == "cosine",
    )
