r"""σ = 0 transport on triangle meshes: upwind finite volumes on the barycentric dual (MATH §8).

At σ = 0 the transport part of MATH §3/§4 is the continuity equation with velocity −γ∇h
([003] eq. (8), WFR descent-ascent; Alg. 2 setting), for the field h (δF/δμ, or −δF/δν for the
maximising player, MATH §4):

    ∂_t ρ = γ ∇·(ρ ∇h).

There is no diffusion, so the Slotboom form of :class:`~mfpde.fem.P1FlowOperator` does not
apply. Finite volumes on the *barycentric dual* of the P1 mesh: the cell C_i of node i joins the
barycentres and edge midpoints of the triangles around i, so |C_i| = Σ_{T∋i} |T|/3 is exactly
the lumped mass w_i of the P1 space (flat triangles; on S² the triangles of the icosphere). The
dual face between nodes i and j is made of one segment per triangle T ∋ {i, j}, from the edge
midpoint m_ij to the barycentre b_T, with integrated normal N^T_ij (in the plane of T, length
|b_T − m_ij|, pointing from i to j). With the P1 gradient ∇h_T of the field on T, the volume
flux from C_i to C_j is

    q_ij = −γ Σ_{T ∋ i, j} ∇h_T · N^T_ij = −q_ji,

and the density crossing the face is the upwind one:

    w_i ρ_i' = −Σ_j (q_ij⁺ ρ_i − q_ij⁻ ρ_j),   q⁺ = max(q, 0), q⁻ = max(−q, 0).

The generator A (ρ' = Aρ) has non-negative off-diagonal entries and Σ_i w_i A_ij = 0: mass
Σ_i w_i ρ_i is conserved exactly and positivity is kept by every step below. For the Laplacian
the same dual fluxes give the P1 stiffness matrix (the box method), so the scheme is the σ → 0
limit of the fitted fluxes; the upwind density makes it first order in space (measured on the
icosphere in ``tests/test_sphere_sigma_zero.py``).

*Time.* Forward Euler substeps of length τ_s = τ/⌈τ c_max / CFL⌉, c_max = max_i(−A_ii) the
largest outflow rate and CFL = 1/2: then ρ^{k+1} = (I + τ_s A) ρ^k has non-negative entries
with diagonal ≥ 1/2, so a positive density stays positive (ρ_i^{k+1} ≥ ρ_i^k/2), and mass is
conserved. First order in time (the splitting of :mod:`mfpde.stepper` is second order only
for second-order substeps). Work per substep O(n_nodes), memory O(n_nodes): the generator has
the P1 sparsity (about 7 entries per row on the icosphere).

*Reaction.* At σ = 0 the reaction is the exact log-linear update of
:class:`mfpde.operator.FlowOperatorBase` (mirror descent for the Fisher-Rao part).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from mfpde.errors import InputError
from mfpde.operator import FlowOperatorBase

__all__ = ["UpwindFlowOperator", "dual_face_normals", "CFL"]

#: Courant number of the forward Euler substeps (≤ 1 keeps positivity; 1/2 keeps ρ ≥ ρ_old/2).
CFL = 0.5


def dual_face_normals(points: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Edges of a triangle mesh and the flux map from nodal fields to dual-face fluxes.

    Parameters
    ----------
    points : ndarray, shape (n, 2) or (n, 3)
        Nodes (2-D meshes, or surfaces in R³ such as the icosphere).
    cells : ndarray, shape (m, 3)
        Triangles.

    Returns
    -------
    edges : ndarray, shape (E, 2)
        The unique edges (i, j), i < j.
    flux : scipy.sparse.csr_matrix, shape (E, n)
        (flux @ h)_e = Σ_{T ∋ e} ∇h_T · N^T_ij for the P1 interpolant of h: the integral of
        ∇h·n over the barycentric dual face of edge e = (i, j), n pointing from i to j
        (module docstring). ``-gamma * flux @ h`` are the volume fluxes q_ij.
    """
    if cells.shape[1] != 3:
        raise InputError(
            f"the upwind (sigma = 0) transport needs a triangle mesh, got {cells.shape[1] - 1}-D "
            "cells"
        )
    if points.shape[1] == 2:
        points = np.column_stack([points, np.zeros(len(points))])
    p = points[cells]  # (m, 3 vertices, 3)
    normal = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])  # 2|T| n_T
    twice_area = np.linalg.norm(normal, axis=1)
    n_unit = normal / twice_area[:, None]
    barycentre = p.mean(axis=1)
    # ∇λ_k = n × (p_{k+2} − p_{k+1}) / (2|T|): gradients of the barycentric coordinates
    grad = (
        np.stack(
            [np.cross(n_unit, p[:, (k + 2) % 3] - p[:, (k + 1) % 3]) for k in range(3)], axis=1
        )
        / twice_area[:, None, None]
    )
    keys, cols, vals = [], [], []
    for a, b in ((0, 1), (1, 2), (2, 0)):
        i, j = cells[:, a], cells[:, b]
        segment = barycentre - 0.5 * (p[:, a] + p[:, b])  # m_ij → b_T
        normal_ij = np.cross(segment, n_unit)  # in the plane of T, length |b_T − m_ij|
        sign = np.sign(np.einsum("tk,tk->t", normal_ij, p[:, b] - p[:, a]))
        normal_ij *= (sign * np.where(i < j, 1.0, -1.0))[:, None]  # min(i, j) → max(i, j)
        key = np.minimum(i, j) * len(points) + np.maximum(i, j)
        for k in range(3):  # ∇h_T · N = Σ_k h_{v_k} ∇λ_k · N
            keys.append(key)
            cols.append(cells[:, k])
            vals.append(np.einsum("tk,tk->t", grad[:, k], normal_ij))
    unique, edge_of = np.unique(np.concatenate(keys), return_inverse=True)
    edges = np.column_stack([unique // len(points), unique % len(points)])
    flux = sp.csr_matrix(
        (np.concatenate(vals), (edge_of.ravel(), np.concatenate(cols))),
        shape=(len(edges), len(points)),
    )
    return edges, flux


class UpwindFlowOperator(FlowOperatorBase):
    """One measure's σ = 0 flow ∂_t ρ = γ∇·(ρ∇h) − αρ(h − ⟨h⟩_ρ) on a P1 space's dual cells.

    Same interface as :class:`~mfpde.fem.P1FlowOperator` (and the finite-volume operator), so
    :func:`mfpde.games.solve_game` and the stepper use it unchanged (module docstring).

    Parameters
    ----------
    space : P1Space
        A triangle mesh (the icosphere, a 2-D mesh); its lumped masses are the dual-cell areas.
    log_pi : ndarray
        log of the normalised reference density at the nodes (unused by the transport at σ = 0).
    sigma : float
        Must be 0 (for σ > 0 use :class:`~mfpde.fem.P1FlowOperator`).
    gamma, alpha : float
        Transport and reaction rates (MATH §3, §4).
    scheme : {"upwind"}
        Forward Euler substeps under the CFL condition (module docstring).
    sigma_reaction : float, optional
        As in :class:`~mfpde.operator.FlowOperatorBase`.
    """

    def __init__(
        self,
        space,
        log_pi: np.ndarray,
        sigma: float,
        gamma: float,
        alpha: float,
        scheme: str = "upwind",
        sigma_reaction: float | None = None,
    ):
        if sigma != 0:
            raise InputError(
                f"the upwind operator is the sigma = 0 transport, got sigma = {sigma} "
                "(use the P1 operator for sigma > 0)"
            )
        if scheme != "upwind":
            raise InputError(f"the upwind operator's time scheme is 'upwind', got {scheme!r}")
        super().__init__(space.weights, log_pi, sigma, gamma, alpha, sigma_reaction)
        self.space, self.scheme = space, "upwind"
        self.edges, self._flux = dual_face_normals(space.mesh.points, space.mesh.cells)
        self._cache: tuple[np.ndarray, sp.csr_matrix, float] | None = None

    def transport_matrix(self, field: np.ndarray) -> sp.csr_matrix:
        """The generator A of the module docstring (ρ' = Aρ) for the frozen field h."""
        if self._cache is not None and self._cache[0] is field:
            return self._cache[1]
        q = -self.gamma * (self._flux @ field)  # volume flux C_i → C_j of each edge (i, j)
        i, j = self.edges.T
        out_i, out_j = np.maximum(q, 0.0), np.maximum(-q, 0.0)
        w = self.weights
        n = len(w)
        rows = np.concatenate([j, i, i, j])
        cols = np.concatenate([i, i, j, j])
        vals = np.concatenate([out_i / w[j], -out_i / w[i], out_j / w[i], -out_j / w[j]])
        matrix = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
        self._cache = (field, matrix, float(-matrix.diagonal().min()))
        return matrix

    def transport_rhs(self, rho: np.ndarray, field: np.ndarray) -> np.ndarray:
        """γ∇·(ρ∇h) ≈ Aρ; Σ_i w_i (Aρ)_i = 0 (mass)."""
        return self.transport_matrix(field) @ rho

    def substeps(self, tau: float, field: np.ndarray) -> int:
        """⌈τ c_max / CFL⌉: the number of forward Euler substeps of a step τ (module docstring)."""
        self.transport_matrix(field)
        return max(1, math.ceil(tau * self._cache[2] / CFL))

    def transport(self, rho: np.ndarray, tau: float, field: np.ndarray) -> np.ndarray:
        """Transport substep of length τ: forward Euler under the CFL condition (positive)."""
        if not self.gamma:
            return rho
        matrix = self.transport_matrix(field)
        n = self.substeps(tau, field)
        step = tau / n
        for _ in range(n):
            rho = rho + step * (matrix @ rho)
        return rho
