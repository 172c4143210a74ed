"""The KL term of the ELBO, in float32: KL(N(mean, exp(log_var)) || N(0, I)) in
closed form, and the one-sample estimate for a mixture prior."""

from keras import ops

from keras_vae import priors
from keras_vae.sampling import posterior_parameters


def gaussian_kl(mean, log_var):
    """Per-dimension KL divergence from a diagonal Gaussian to N(0, 1).

    Args:
        mean: tensor `[batch, latent_dim]`.
        log_var: tensor `[batch, latent_dim]`, clipped to [-30, 20].

    Returns:
        float32 tensor `[batch, latent_dim]`:
        `0.5 * (mean**2 + exp(log_var) - 1 - log_var)`.
    """
    mean, log_var = posterior_parameters(mean, log_var)
    return 0.5 * (ops.square(mean) + ops.exp(log_var) - 1.0 - log_var)


def kl_per_example(mean, log_var):
    """KL summed over latent dimensions: float32 `[batch]`, in nats."""
    return ops.sum(gaussian_kl(mean, log_var), axis=-1)


def kl_objective(mean, log_var, free_bits=0.0):
    """Scalar KL term to optimise: the batch mean of the per-example KL.

    With `free_bits > 0` each latent dimension's batch-mean KL is raised to at
    least `free_bits` nats before summing (Kingma et al., 2016), so the
    optimiser has no incentive to push a dimension's KL below that floor. With
    `free_bits == 0` this equals `mean(kl_per_example(mean, log_var))`.
    """
    per_dim = ops.mean(gaussian_kl(mean, log_var), axis=0)
    if free_bits:
        per_dim = ops.maximum(per_dim, free_bits)
    return ops.sum(per_dim)


def kl_estimate(z, mean, log_var, prior_means, prior_log_vars):
    """One-sample estimate of KL(q(z | x) || p(z)) for a mixture prior.

    `log q(z | x) - log p(z)` at `z`, a draw from q, with
    `p = (1/K) sum_k N(prior_means[k], exp(prior_log_vars[k]))`.

    Args:
        z, mean, log_var: `[batch, latent_dim]`.
        prior_means, prior_log_vars: float32 `[K, latent_dim]`.

    Returns:
        float32 `[batch]`, in nats. Unbiased for the KL; single values may be
        negative.
    """
    mean, log_var = posterior_parameters(mean, log_var)
    log_q = priors.log_normal(z, mean, log_var)
    return log_q - priors.mixture_log_prob(z, prior_means, prior_log_vars)
