"""Mean-field theory of signal propagation in deep random tanh networks.

The network: ``h^l = W^l tanh(h^(l-1)) + b^l`` with ``W^l_ij ~ N(0, sigma_w2 / N)`` and
``b^l_i ~ N(0, sigma_b2)``, in the limit of infinite width N (Poole et al. 2016, "Exponential
expressivity in deep neural networks through transient chaos"; Schoenholz et al. 2017, "Deep
information propagation", ICLR). With ``Dz`` the standard Gaussian measure:

- the **length map** ``q^l = sigma_w2 * int Dz tanh(sqrt(q^(l-1)) z)^2 + sigma_b2`` has one
  fixed point ``q*``, the variance of a pre-activation deep in the net;
- the **correlation map** of two inputs, ``c^l = (sigma_w2 * int Dz1 Dz2 tanh(u1) tanh(u2) +
  sigma_b2) / q*`` with ``u1 = sqrt(q*) z1``, ``u2 = sqrt(q*) (c z1 + sqrt(1 - c^2) z2)``,
  has the fixed point ``c* = 1`` (ordered phase) or a ``c* < 1`` (chaotic phase);
- ``chi_1 = sigma_w2 * int Dz tanh'(sqrt(q*) z)^2`` is the slope of the correlation map at
  ``c = 1`` and the factor by which ``||dL/dh||^2`` grows per layer going backwards:
  ``chi_1 < 1`` ordered (gradients vanish), ``chi_1 > 1`` chaotic (gradients explode),
  ``chi_1 = 1`` the critical line, the edge of chaos;
- ``chi_c = sigma_w2 * int Dz1 Dz2 tanh'(u1) tanh'(u2)`` at ``c*`` gives the depth scale of
  correlations ``xi_c = -1 / ln(chi_c)`` (``chi_c = chi_1`` in the ordered phase). It diverges
  on the critical line; Schoenholz et al. find that a net of depth L trains only when
  ``L`` is below about ``6 xi_c``.

The integrals are Gauss-Hermite quadratures (probabilists' Hermite, :data:`NODES` points per
dimension, a product grid in two dimensions): exact for polynomials of degree < 2 x NODES and
converged to ~1e-12 for these smooth integrands at the variances that occur (q* < 20). The
fixed points are found by iterating the maps (both are contractions towards the stable fixed
point), ``c*`` in the chaotic phase by bisection on ``c_map(c) - c``.

Every function takes ``sigma_w2 > 0`` and ``sigma_b2 >= 0`` as Python or NumPy reals and
returns Python floats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._args import check_real

__all__ = [
    "NODES",
    "MeanField",
    "c_map",
    "c_star",
    "chi_1",
    "critical_sigma_w2",
    "mean_field",
    "q_map",
    "q_star",
]

#: Gauss-Hermite points per dimension.
NODES = 101

_Z, _W = np.polynomial.hermite_e.hermegauss(NODES)
_W = _W / math.sqrt(2.0 * math.pi)  # weights of the standard normal: sum to 1
_Z1, _Z2 = np.meshgrid(_Z, _Z, indexing="ij")
_W2 = np.outer(_W, _W)

#: Iteration limits for the fixed points (reached only where convergence is algebraic: at
#: sigma_b2 = 0 with sigma_w2 <= 1, where q* = 0 is approached like 1/l).
_MAX_ITER = 100_000
_TOL = 1e-14


def _dtanh(u):
    return 1.0 / np.cosh(u) ** 2


def _args(owner: str, sigma_w2, sigma_b2) -> tuple[float, float]:
    sw2 = check_real("sigma_w2", sigma_w2, owner=owner, min=0.0, min_open=True, max=1e6)
    sb2 = check_real("sigma_b2", sigma_b2, owner=owner, min=0.0, max=1e6)
    return sw2, sb2


def q_map(q: float, sigma_w2: float, sigma_b2: float) -> float:
    """One layer of the length map: the pre-activation variance after a layer whose input
    pre-activations have variance ``q`` (>= 0)."""
    sw2, sb2 = _args("q_map", sigma_w2, sigma_b2)
    q = check_real("q", q, owner="q_map", min=0.0)
    return float(sw2 * np.dot(_W, np.tanh(math.sqrt(q) * _Z) ** 2) + sb2)


def _q_star(sw2: float, sb2: float) -> float:
    if sb2 == 0.0 and sw2 <= 1.0:
        return 0.0  # tanh(x)^2 < x^2, so q_map(q) < sw2 * q <= q: the iteration only creeps to 0
    q = 1.0
    for _ in range(_MAX_ITER):
        nxt = sw2 * float(np.dot(_W, np.tanh(math.sqrt(q) * _Z) ** 2)) + sb2
        if abs(nxt - q) <= _TOL * max(1.0, q):
            return nxt
        q = nxt
    return q


def q_star(sigma_w2: float, sigma_b2: float) -> float:
    """The fixed point of the length map: the variance of a pre-activation deep in the net."""
    return _q_star(*_args("q_star", sigma_w2, sigma_b2))


def _chi_1(sw2: float, q: float) -> float:
    return sw2 * float(np.dot(_W, _dtanh(math.sqrt(q) * _Z) ** 2))


def chi_1(sigma_w2: float, sigma_b2: float) -> float:
    """``sigma_w2 * E[tanh'(h)^2]`` at ``q*``: the growth of ``||dL/dh||^2`` per layer going
    backwards (< 1 ordered / vanishing, > 1 chaotic / exploding)."""
    sw2, sb2 = _args("chi_1", sigma_w2, sigma_b2)
    return _chi_1(sw2, _q_star(sw2, sb2))


def _pair(q: float, c: float):
    s = math.sqrt(q)
    return s * _Z1, s * (c * _Z1 + math.sqrt(max(0.0, 1.0 - c * c)) * _Z2)


def _c_map(c: float, sw2: float, sb2: float, q: float) -> float:
    u1, u2 = _pair(q, c)
    return (sw2 * float(np.sum(_W2 * np.tanh(u1) * np.tanh(u2))) + sb2) / q


def c_map(c: float, sigma_w2: float, sigma_b2: float) -> float:
    """One layer of the correlation map at ``q*``: the correlation of two inputs' pre-
    activations after a layer whose inputs had correlation ``c`` (in [-1, 1])."""
    sw2, sb2 = _args("c_map", sigma_w2, sigma_b2)
    c = check_real("c", c, owner="c_map", min=-1.0, max=1.0)
    q = _q_star(sw2, sb2)
    return _c_map(c, sw2, sb2, q) if q > 0 else 1.0


def _c_star(sw2: float, sb2: float, q: float, chi1: float) -> float:
    if q <= 0 or chi1 <= 1.0:
        return 1.0  # ordered: c = 1 is the stable fixed point
    # Chaotic: c = 1 is unstable (slope chi_1 > 1) and c_map(c) - c changes sign once on
    # [c_lo, 1): c_map(c_lo) >= c_lo because c_map(c) >= sb2 / q >= 0 for c >= 0.
    lo, hi = 0.0, 1.0 - 1e-12
    if _c_map(hi, sw2, sb2, q) - hi > 0:  # numerically at the edge: no interior point
        return 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _c_map(mid, sw2, sb2, q) - mid > 0:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-15:
            break
    return 0.5 * (lo + hi)


def c_star(sigma_w2: float, sigma_b2: float) -> float:
    """The stable fixed point of the correlation map: 1 in the ordered phase, < 1 in the
    chaotic one (how correlated two different inputs end up deep in the net)."""
    sw2, sb2 = _args("c_star", sigma_w2, sigma_b2)
    q = _q_star(sw2, sb2)
    return _c_star(sw2, sb2, q, _chi_1(sw2, q))


@dataclass(frozen=True)
class MeanField:
    """The mean-field quantities at one ``(sigma_w2, sigma_b2)``.

    ``gain`` is ``sqrt(chi_1)``: the predicted ratio ``||dL/dx|| / ||dL/dy||`` of one
    Dense(tanh) layer (what the gradient monitor measures as the layer's gain). ``xi_grad`` is
    ``-1 / ln(chi_1)``: the depth over which ``||dL/dh||^2`` falls by e (ordered phase,
    positive) or grows by e (chaotic, reported negative); infinite at criticality. ``phase``:
    ``"ordered"``, ``"chaotic"`` or ``"critical"`` (``|chi_1 - 1| < 1e-9``)."""

    sigma_w2: float
    sigma_b2: float
    q_star: float
    c_star: float
    chi_1: float
    chi_c: float
    xi_c: float
    xi_grad: float
    gain: float
    phase: str

    def trainable_depth(self, factor: float = 6.0) -> float:
        """``factor * xi_c``: Schoenholz et al.'s bound on the depth that trains (about 6)."""
        return factor * self.xi_c


def _xi(chi: float) -> float:
    if chi <= 0:
        return 0.0
    ln = math.log(chi)
    return math.inf if ln == 0 else -1.0 / ln


def mean_field(sigma_w2: float, sigma_b2: float) -> MeanField:
    """Every mean-field quantity at ``(sigma_w2, sigma_b2)``: see :class:`MeanField`."""
    sw2, sb2 = _args("mean_field", sigma_w2, sigma_b2)
    q = _q_star(sw2, sb2)
    chi1 = _chi_1(sw2, q)
    c = _c_star(sw2, sb2, q, chi1)
    if c >= 1.0:
        chic = chi1
    else:
        u1, u2 = _pair(q, c)
        chic = sw2 * float(np.sum(_W2 * _dtanh(u1) * _dtanh(u2)))
    if abs(chi1 - 1.0) < 1e-9:
        phase = "critical"
    else:
        phase = "ordered" if chi1 < 1.0 else "chaotic"
    return MeanField(
        sigma_w2=sw2,
        sigma_b2=sb2,
        q_star=q,
        c_star=c,
        chi_1=chi1,
        chi_c=chic,
        xi_c=_xi(chic),
        xi_grad=_xi(chi1),
        gain=math.sqrt(chi1),
        phase=phase,
    )


def critical_sigma_w2(sigma_b2: float) -> float:
    """The ``sigma_w2`` on the critical line ``chi_1 = 1`` for this ``sigma_b2`` (bisection;
    ``chi_1`` increases with ``sigma_w2``). About 1.76 at ``sigma_b2 = 0.05``, 1 at 0."""
    sb2 = check_real("sigma_b2", sigma_b2, owner="critical_sigma_w2", min=0.0, max=100.0)
    lo, hi = 1e-6, 1.0
    while _chi_1(hi, _q_star(hi, sb2)) < 1.0:
        lo, hi = hi, 2.0 * hi
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if _chi_1(mid, _q_star(mid, sb2)) < 1.0:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-13 * hi:
            break
    return 0.5 * (lo + hi)
