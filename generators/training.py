"""Training of the zoo: the losses, one step per model, and the one loop every model uses.

Each model's step has the signature ``step(state, *batch, rng_key, *constants, tx)
-> (state, metrics)``; :func:`fit` runs it over shuffled minibatches for a number
of epochs with a fixed seed (numpy for the batch order, JAX for the step keys),
so a model's weights are reproducible from its seed and epochs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, NamedTuple

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .models import Classifier, Discriminator, Generator

BATCH = 128

# Generator loss weights and code augmentation (see generator_loss).
NOISE_SCALE = 0.5  # noisy codes: c + NOISE_SCALE * std * eps, clipped >= 0
FEAT_WEIGHT = 0.05  # weight of the relative E-space feature loss
COMPARATOR_LAYERS = ("conv1", "conv2")  # the classifier layers of the comparator loss


class TrainState(NamedTuple):
    """Parameters, optimiser state and step count of one model."""

    params: Any
    opt_state: Any
    step: jnp.ndarray


def adam(lr: float, total_steps: int) -> optax.GradientTransformation:
    """Adam with a cosine decay to 5% of ``lr`` over the run."""
    return optax.adam(optax.cosine_decay_schedule(lr, max(total_steps, 1), alpha=0.05))


def init_state(params, tx) -> TrainState:
    return TrainState(params, tx.init(params), jnp.zeros((), jnp.int32))


def apply_grads(state: TrainState, grads, tx) -> TrainState:
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    return TrainState(optax.apply_updates(state.params, updates), opt_state, state.step + 1)


def save_params(params, path) -> None:
    path.write_bytes(flax.serialization.to_bytes(params))


def load_params(template, path):
    return flax.serialization.from_bytes(template, path.read_bytes())


# --------------------------------------------------------------------------- steps


def classifier_train_step(state: TrainState, images, labels, rng_key, *, model, tx):
    """One cross-entropy step of a classifier (``Classifier`` or ``Judge``) with dropout."""

    def loss_fn(params):
        logits = model.apply(params, images, True, rngs={"dropout": rng_key})
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        return loss, (logits.argmax(-1) == labels).mean()

    (loss, acc), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return apply_grads(state, grads, tx), {"loss": loss, "acc": acc}


def augment_codes(codes, rng_key, code_std):
    r"""Split a batch of real codes into thirds: clean, noisy and interpolated.

    * clean: :math:`c`;
    * noisy: :math:`\max(0, c + 0.5\,\sigma \odot \epsilon)`, :math:`\epsilon\sim N(0, I)`,
      with :math:`\sigma` the per-dimension std of real codes;
    * interpolated: :math:`a c_i + (1-a) c_j` with :math:`a \sim U(0, 1)` and j a
      random other image of the batch.

    Returns:
      ``(aug_codes, partner_index, a, kind)`` where ``kind`` is 0/1/2 for
      clean/noisy/interpolated, ``partner_index`` is j and ``a`` the weight of
      the image's own code (1 for clean and noisy codes).
    """
    n = codes.shape[0]
    k_noise, k_perm, k_a = jax.random.split(rng_key, 3)
    kind = (jnp.arange(n) * 3) // n  # 0,..,0,1,..,1,2,..,2
    noisy = jnp.maximum(codes + NOISE_SCALE * code_std * jax.random.normal(k_noise, codes.shape), 0.0)
    partner = jax.random.permutation(k_perm, n)
    a = jax.random.uniform(k_a, (n,))
    interp = a[:, None] * codes + (1 - a[:, None]) * codes[partner]
    aug = jnp.where((kind == 0)[:, None], codes, jnp.where((kind == 1)[:, None], noisy, interp))
    a = jnp.where(kind == 2, a, 1.0)
    partner = jnp.where(kind == 2, partner, jnp.arange(n))
    return aug, partner, a, kind


def generator_loss(gen_params, enc_params, images, rng_key, code_std, code_sq_mean, *, generator, classifier,
                   comparator_weight=0.0):
    r"""DGN-style inversion loss with code augmentation.

    With E the (frozen) encoder and G the generator, for each augmented code
    :math:`\tilde c` (see :func:`augment_codes`):

    .. math::
        L = w_{pix}\,\mathrm{mean}\big(G(\tilde c) - x^\star\big)^2
            + \lambda_f \frac{\|E(G(\tilde c)) - c^\star\|^2}{\mathbb{E}\|c\|^2}
            + \lambda_c\, w_{pix} \sum_{l} \frac{\mathrm{mean}(A_l(G(\tilde c)) - A_l(x^\star))^2}{\mathrm{mean}\, A_l(x)^2}

    * clean and noisy codes: :math:`x^\star = x` (denoise: noisy codes must still
      decode to the clean image) and :math:`c^\star = E(x)`, :math:`w_{pix} = 1`;
    * interpolated codes :math:`a c_i + (1-a) c_j`: :math:`c^\star = \tilde c` (the
      decoded image must carry the interpolated code) and :math:`x^\star` is the
      nearer endpoint image with weight :math:`w_{pix} = |2a - 1|` -- full weight
      at the endpoints, none at the midpoint -- which keeps interpolations on the
      image manifold and on the nearer endpoint's class;
    * the last term (off when :math:`\lambda_c` = 0) is the DeePSiM comparator
      loss: the classifier's conv activations :math:`A_l` (conv1, conv2) of the
      generated and the target image, each layer scaled by its mean square on real images.

    ``classifier(params, images)`` returns the classifier's activations by layer name.
    Returns ``(loss, metrics, generated images)``.
    """
    real = jax.lax.stop_gradient(classifier(enc_params, images))
    codes = real["fc6"]
    aug, partner, a, kind = augment_codes(codes, rng_key, code_std)
    out = generator(gen_params, aug)
    nearer = jnp.where((a >= 0.5)[:, None, None, None], images, images[partner])
    w_pix = jnp.where(kind == 2, jnp.abs(2 * a - 1), 1.0)
    pix = ((out - nearer) ** 2).mean((1, 2, 3))
    code_target = jnp.where((kind == 2)[:, None], aug, codes)
    fake = classifier(enc_params, out)
    feat = ((fake["fc6"] - code_target) ** 2).sum(-1) / code_sq_mean
    loss = (w_pix * pix).mean() + FEAT_WEIGHT * feat.mean()
    metrics = {"pix_clean": jnp.where(kind == 0, pix, 0).sum() / jnp.maximum((kind == 0).sum(), 1),
               "feat": feat.mean()}
    if comparator_weight:
        comp = 0.0
        for layer in COMPARATOR_LAYERS:
            target = jnp.where((a >= 0.5)[:, None, None, None], real[layer], real[layer][partner])
            comp = comp + ((fake[layer] - target) ** 2).mean((1, 2, 3)) / jnp.mean(real[layer] ** 2)
        loss = loss + comparator_weight * (w_pix * comp).mean()
        metrics["comparator"] = comp.mean()
    return loss, metrics, out


def _classifier_fn():
    clf = Classifier()
    return lambda p, x: clf.apply(p, x, method=Classifier.activations)


def generator_train_step(state: TrainState, images, rng_key, enc_params, code_std, code_sq_mean, *, tx):
    """One step of :func:`generator_loss` (the encoder is frozen)."""
    gen = Generator()
    loss_fn = partial(generator_loss, generator=lambda p, c: gen.apply(p, c), classifier=_classifier_fn())
    (loss, aux), grads = jax.value_and_grad(lambda *a: loss_fn(*a)[:2], has_aux=True)(
        state.params, enc_params, images, rng_key, code_std, code_sq_mean
    )
    return apply_grads(state, grads, tx), {"loss": loss, **aux}


def adversarial_generator_train_step(state: TrainState, images, rng_key, enc_params, code_std, code_sq_mean, *,
                                     tx, conv_channels, adv_weight, comparator_weight):
    r"""One simultaneous step of the generator and its critic D (DeePSiM: pixel, feature and adversarial losses).

    ``state.params`` is ``{"generator": …, "discriminator": …}``. With the
    generated images :math:`\hat x = G(\tilde c)` of :func:`generator_loss`:

    .. math::
        L_G = L_{inv} + λ_{adv}\, \mathrm{mean}\, \mathrm{softplus}(-D(\hat x)),\qquad
        L_D = \mathrm{mean}\, \mathrm{softplus}(-D(x)) + \mathrm{mean}\, \mathrm{softplus}(D(\hat x))

    (the non-saturating GAN loss). The critic sees every generated image —
    clean, noisy and interpolated codes — so G learns to decode off-manifold codes
    to realistic images too.
    """
    gen, disc = Generator(conv_channels=conv_channels), Discriminator()
    inversion = partial(generator_loss, generator=lambda p, c: gen.apply(p, c), classifier=_classifier_fn(),
                        comparator_weight=comparator_weight)

    def loss_fn(params):
        g, d = params["generator"], params["discriminator"]
        loss, metrics, out = inversion(g, enc_params, images, rng_key, code_std, code_sq_mean)
        adv = jax.nn.softplus(-disc.apply(jax.lax.stop_gradient(d), out)).mean()
        critic = (jax.nn.softplus(-disc.apply(d, images)).mean()
                  + jax.nn.softplus(disc.apply(d, jax.lax.stop_gradient(out))).mean())
        return loss + adv_weight * adv + critic, {**metrics, "inversion": loss, "adv": adv, "critic": critic}

    (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return apply_grads(state, grads, tx), {"loss": loss, **aux}


def flow_loss(params, codes, *, model):
    r"""Negative log-likelihood per dimension of pre-activation codes h under the flow:

    .. math:: -\frac{1}{D}\Big(\log N(z; 0, I) + \log\big|\det \partial z / \partial h\big|\Big),\quad z = T(h)
    """
    z, log_det = model.apply(params, codes, method=model.forward)
    log_prior = -0.5 * jnp.sum(z**2, axis=-1) - 0.5 * z.shape[-1] * jnp.log(2 * jnp.pi)
    return -jnp.mean(log_prior + log_det) / z.shape[-1]


def flow_train_step(state: TrainState, codes, rng_key, *, model, tx):
    """One maximum-likelihood step of the code prior (:class:`~generators.models.CodeFlow`)."""
    del rng_key  # the loss is deterministic
    loss, grads = jax.value_and_grad(partial(flow_loss, model=model))(state.params, codes)
    return apply_grads(state, grads, tx), {"nll_per_dim": loss}


# --------------------------------------------------------------------------- the loop


def minibatches(n: int, rng: np.random.Generator, batch: int = BATCH):
    """Indices of one epoch's shuffled minibatches (a last partial batch is dropped)."""
    perm = rng.permutation(n)
    for i in range(0, n - batch + 1, batch):
        yield perm[i : i + batch]


def fit(
    name: str,
    init_params: Callable,
    train_step: Callable,
    data: Sequence[np.ndarray],
    *,
    epochs: int,
    seed: int,
    lr: float = 1e-3,
    constants: tuple = (),
    evaluate: Callable | None = None,
    log: Callable = print,
):
    """Train one model: the loop every model of the zoo uses.

    Args:
      name: shown in the progress lines.
      init_params: ``key -> params``.
      train_step: ``step(state, *batch, rng_key, *constants, tx=...) -> (state, metrics)``.
      data: arrays with one example per row; each minibatch takes the same rows of each.
      epochs, seed, lr: the run (Adam with cosine decay over all steps).
      constants: extra arguments of every step (e.g. a frozen encoder's parameters).
      evaluate: ``evaluate(params, epoch) -> dict`` of figures after each epoch (or ``{}``).

    Returns:
      ``(params, history, seconds)``: ``history`` has one row per epoch (the mean
      of each step metric as ``train_*``, the evaluation, the epoch's time).
    """
    rng = np.random.default_rng(seed)
    key = jax.random.PRNGKey(seed)
    tx = adam(lr, epochs * (len(data[0]) // BATCH))
    state = init_state(init_params(key), tx)
    step = jax.jit(partial(train_step, tx=tx))
    history = []
    t0 = time.time()
    for epoch in range(epochs):
        t_epoch = time.time()
        metrics = []
        for idx in minibatches(len(data[0]), rng):
            key, sub = jax.random.split(key)
            state, m = step(state, *(jnp.asarray(d[idx]) for d in data), sub, *constants)
            metrics.append({k: float(v) for k, v in m.items()})
        row = {"epoch": epoch + 1, **{f"train_{k}": float(np.mean([m[k] for m in metrics])) for k in metrics[0]}}
        row.update(evaluate(state.params, epoch) if evaluate is not None else {})
        row["time_s"] = time.time() - t_epoch
        history.append(row)
        log(f"[{name}] epoch {epoch + 1}/{epochs} "
            + " ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items() if k != "epoch"))
    return state.params, history, time.time() - t0
