"""Floating-point work of a VAE's training step, counted from its layers.

Only the matrix products count: `Dense`, `Conv2D` and `Conv2DTranspose`
multiply-adds, 2 FLOPs each. Bias adds, activations, normalization, the
likelihood, the KL term and the optimizer are left out: they do a few
FLOPs per activation or weight, against 9 to 1,024 multiply-adds per
activation for the products, so they are a small part of the count (their
memory traffic is not small, and is part of why no run reaches the matmul
peak).

A training step is the forward pass, the gradient with respect to each
layer's input and the gradient with respect to each kernel, each as many
multiply-adds as the forward pass, except that no framework computes the
gradient with respect to the images, so the first layer's input gradient
is not counted.

The package and the plain-PyTorch reference train the same model, so the
same count turns both sides' images/s into GFLOP/s.
"""

import math

import keras


def _positions(shape):
    """Spatial positions of one example: the product of the middle axes."""
    return math.prod(int(d) for d in shape[1:-1])


def layer_macs(layer):
    """Multiply-adds of one example through `layer`, 0 for layers without a
    kernel. `layer` must have been called once (a functional model's layer)."""
    if isinstance(layer, keras.layers.Conv2DTranspose):
        # Each input position scatters a kernel_h x kernel_w x out patch.
        return _positions(layer.input.shape) * math.prod(layer.kernel.shape)
    if isinstance(layer, keras.layers.Conv2D):
        return _positions(layer.output.shape) * math.prod(layer.kernel.shape)
    if isinstance(layer, keras.layers.Dense):
        return _positions(layer.input.shape) * math.prod(layer.kernel.shape)
    return 0


def _layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
        else:
            yield layer


def train_flop_per_image(vae):
    """FLOPs of one image's training step through `vae.encoder` and
    `vae.decoder`: 3 x the forward multiply-adds less the first layer's input
    gradient, times 2 FLOPs per multiply-add."""
    macs = [layer_macs(layer) for layer in _layers(vae.encoder)]
    macs += [layer_macs(layer) for layer in _layers(vae.decoder)]
    first = next((m for m in macs if m), 0)
    return 2 * (3 * sum(macs) - first)
