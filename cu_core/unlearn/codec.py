r"""Azadkia & Chatterjee's conditional dependence coefficient (CODEC) and FOCI feature selection, the
statistics LCODEC (Mehta et al. 2022) uses to pick the parameters that matter for a deletion.

For ``n`` paired draws, ``R_i = #{j: y_j <= y_i}``, ``L_i = #{j: y_j >= y_i}``, ``N(i)`` the nearest neighbour
of ``x_i`` and ``M(i)`` the nearest neighbour of ``(x_i, z_i)`` (Euclidean, excluding ``i``):

    T(Y, Z)     = sum_i (n min(R_i, R_M(i)) - L_i^2) / sum_i L_i (n - L_i)          (M(i): neighbour of z_i)
    T(Y, Z | X) = sum_i (min(R_i, R_M(i)) - min(R_i, R_N(i))) / sum_i (R_i - min(R_i, R_N(i)))

Both tend to 0 under (conditional) independence and to 1 when Y is a measurable function of Z (given X).
FOCI adds, greedily, the feature with the largest conditional coefficient given those already chosen and stops
when no candidate has a positive one. Everything is vectorised over candidate features (chunks of
``n x n`` distance matrices; the first, one-dimensional step by sorting). Nearest-neighbour ties go to the
lowest index (the estimator assumes continuous data).
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["ranks", "codec", "foci"]


def ranks(y: Tensor) -> tuple[Tensor, Tensor]:
    """R_i = #{j: y_j <= y_i} and L_i = #{j: y_j >= y_i} for y of shape (n,)."""
    y = y.reshape(-1)
    return (y[None, :] <= y[:, None]).sum(1), (y[None, :] >= y[:, None]).sum(1)


def _neighbours(sq_dist: Tensor) -> Tensor:
    """Index of each row's nearest other point; sq_dist (..., n, n) → (..., n)."""
    n = sq_dist.shape[-1]
    eye = torch.eye(n, dtype=torch.bool, device=sq_dist.device)
    return sq_dist.masked_fill(eye, float("inf")).argmin(-1)


def _sq_dist(x: Tensor) -> Tensor:
    """Pairwise squared distances of the rows of x (n, d) → (n, n)."""
    return (x[:, None, :] - x[None, :, :]).pow(2).sum(-1)


def _unconditional(r: Tensor, big_l: Tensor, m: Tensor) -> Tensor:
    """T(Y, Z) for neighbour indices m (k, n) → (k,)."""
    n = r.shape[0]
    num = (n * torch.minimum(r[None, :], r[m]) - big_l.pow(2)[None, :]).sum(-1)
    den = (big_l * (n - big_l)).sum()
    return num.double() / float(den) if den > 0 else torch.zeros(num.shape, dtype=torch.float64)


def _conditional(r: Tensor, nx: Tensor, m: Tensor) -> Tensor:
    """T(Y, Z | X) for the X-neighbours nx (n,) and (X, Z)-neighbours m (k, n) → (k,)."""
    base = torch.minimum(r, r[nx])
    den = (r - base).sum()
    num = (torch.minimum(r[None, :], r[m]) - base[None, :]).sum(-1)
    return num.double() / float(den) if den > 0 else torch.zeros(num.shape, dtype=torch.float64)


def codec(y: Tensor, z: Tensor, x: Tensor | None = None) -> float:
    """T(Y, Z | X), or T(Y, Z) when x is None. y (n,), z (n,) or (n, d_z), x (n,) or (n, d_x); n >= 2."""
    y = y.double().reshape(-1)
    if y.numel() < 2:
        raise ValueError("codec needs at least 2 samples")
    r, big_l = ranks(y)
    z = z.double().reshape(len(y), -1)
    if x is None:
        return float(_unconditional(r, big_l, _neighbours(_sq_dist(z))[None])[0])
    x = x.double().reshape(len(y), -1)
    nx = _neighbours(_sq_dist(x))
    return float(_conditional(r, nx, _neighbours(_sq_dist(torch.cat([x, z], 1)))[None])[0])


def _sorted_neighbours(cols: Tensor) -> Tensor:
    """Nearest other point of every entry of each row of cols (k, n), by value; ties to the lower index."""
    values, order = cols.sort(dim=1, stable=True)
    big = torch.full_like(values[:, :1], float("inf"))
    left = torch.cat([big, values[:, 1:] - values[:, :-1]], 1)  # gap to the previous sorted value
    right = torch.cat([values[:, 1:] - values[:, :-1], big], 1)
    left_idx = torch.cat([order[:, :1], order[:, :-1]], 1)
    right_idx = torch.cat([order[:, 1:], order[:, -1:]], 1)
    pick_left = (left < right) | ((left == right) & (left_idx < right_idx))
    nearest_sorted = torch.where(pick_left, left_idx, right_idx)
    return torch.empty_like(order).scatter_(1, order, nearest_sorted)


def _scores(r: Tensor, big_l: Tensor, features: Tensor, candidates: Tensor, base: Tensor | None,
            nx: Tensor | None, chunk: int) -> Tensor:
    """CODEC of every candidate column given the chosen ones (their distance matrix `base`)."""
    if base is None:  # one dimension: the nearest neighbour is adjacent in sorted order, O(n log n)
        return _unconditional(r, big_l, _sorted_neighbours(features[:, candidates].T))
    out = []
    for start in range(0, len(candidates), chunk):
        cols = features[:, candidates[start:start + chunk]].float()  # (n, k); float32 halves the traffic
        d = (cols.T[:, :, None] - cols.T[:, None, :]).pow(2)  # (k, n, n)
        m = _neighbours(d + base[None])
        out.append(_conditional(r, nx, m))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64)


def foci(features: Tensor, y: Tensor, *, max_features: int = 0, chunk: int = 16) -> tuple[list[int], list[float]]:
    """Greedy FOCI: columns of `features` (n, p) that predict y (n,), in the order chosen, and their CODEC
    values. Stops when the best conditional coefficient is <= 0 or after `max_features` (0: no cap); the
    first pick is kept whatever its value (as in the LCODEC code). Constant columns are never chosen.
    Candidate distances are float32 (only their order matters); ranks and coefficients float64."""
    features = features.double()
    y = y.double().reshape(-1)
    if features.ndim != 2 or features.shape[0] != y.numel():
        raise ValueError(f"features must be (n, p) with n = len(y) = {y.numel()}, got {tuple(features.shape)}")
    r, big_l = ranks(y)
    live = torch.nonzero(features.std(0) > 0).flatten()
    chosen: list[int] = []
    values: list[float] = []
    base = nx = None
    while len(live) and (max_features <= 0 or len(chosen) < max_features):
        scores = _scores(r, big_l, features, live, base, nx, chunk)
        best = int(scores.argmax())
        if nx is not None and float(scores[best]) <= 0:
            break
        pick = int(live[best])
        chosen.append(pick)
        values.append(float(scores[best]))
        live = torch.cat([live[:best], live[best + 1:]])
        col = features[:, pick]
        extra = (col[:, None] - col[None, :]).pow(2).float()
        base = extra if base is None else base + extra
        nx = _neighbours(base)
    return chosen, values
