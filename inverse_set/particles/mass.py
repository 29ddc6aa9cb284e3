"""The band's probability under the prior from a ladder's population in the band (:mod:`inverse_set.particles.ladder`)."""

from __future__ import annotations

import numpy as np

from inverse_set.particles.state import MIN_WEIGHT_ESS, LadderState


def weights_worth(state: LadderState) -> float:
    """How many independent draws the band's fresh draws' importance weights are worth, (Σw)² / Σw² (0: none, or
    weights so small that their squares underflow float32)."""
    total, squares = float(state.mass.far_weight), float(state.mass.far_weight_sq)
    return total ** 2 / squares if squares > 0 else 0.0


def band_mass(state: LadderState, level: float = 0.9) -> tuple[float, float, float]:
    """The band's probability under the prior and its interval: ``(estimate, low, high)`` (a ladder IN_BAND only).

    By importance sampling where the band's own moves drew afresh from N(μ, I) (:func:`inverse_set.particles.moves.propose`;
    their draws are independent given μ, so ``P(B) = E_q[1_B p/q]`` is estimated without bias, with the weights'
    own variance), unless their weights are worth fewer than ``MIN_WEIGHT_ESS`` draws; else the product of the
    levels' fractions (or rejection's hit rate), which runs high where the levels' moves have not mixed; so too
    where the weights' squares underflow."""
    z = {0.9: 1.6449, 0.95: 1.96}[level]
    m, total, squares = float(state.mass.far_draws), float(state.mass.far_weight), float(state.mass.far_weight_sq)
    # weights so small that their squares underflow float32 (a band of mass ~1e-20) are worth nothing: the product
    if weights_worth(state) >= MIN_WEIGHT_ESS:
        estimate = total / m
        relative_sd = np.sqrt(max(squares / m - estimate ** 2, 0.0) / m) / estimate
        log_p, half = np.log(estimate), z * relative_sd
    else:
        log_p, half = float(state.mass.log_mass), z * float(np.sqrt(state.mass.log_mass_var))
    return float(np.exp(log_p)), float(np.exp(log_p - half)), float(np.exp(log_p + half))
