"""The duckdb engine's rank pass, compiled (numba): AUC placements and AP influences per row,
from rows streamed in score order; one pass over each chunk, no temporaries of its size.

The arithmetic is that of `bot.evaluation.paired._ranked` (DeLong placements with ties counted
half, AP influences from cumulative sums over tie blocks), carried per group across chunks. A
chunk holds whole tie blocks of the global score order; the rows of one group within a global
tie block are that group's tie block. Nothing is approximated: AUC placements stay exact
integer numerators (2 x rows below + ties) until the paired difference is scaled.

Rows are handled in tiles of about `TILE` rows (whole tie blocks), so the per-row values, the
random-access pairing by row id and the fold of the differences work on buffers that stay in
the core's cache. The differences are folded per tile into per-(group, class) count, mean and
sum of squared deviations (two passes over the tile, then merged: Chan et al.).
"""

from __future__ import annotations

import numba
import numpy as np

TILE = 1 << 14
# state columns per group: rows and positives below the current block, AP's two running sums
CNT, POS, CX, CC = 0, 1, 2, 3


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def chunk(ry: np.ndarray, s: np.ndarray, code: np.ndarray, totals: np.ndarray,
          state: np.ndarray, k: int, want_auc: bool, want_ap: bool, paired: bool, first: bool,
          auc_num: np.ndarray, prec_sum: np.ndarray, first_v: np.ndarray, first_i: np.ndarray,
          stats: np.ndarray) -> None:  # pragma: no cover - compiled; tests/evaluation/engines run it
    """One chunk of rows in ascending score order (whole tie blocks) of one model (k: 0 first,
    1 second): `ry` is 2 x row id + label (0/1), `s` the score, `code` each row's group (empty:
    one group). Updates, per group: `state`
    [G, 4]; `auc_num` [G, 2] sum over positives of 2 x placement numerator; `prec_sum` [G, 2]
    sum over positives of the precision at the row's score. Paired, the first model writes its
    per-row values by row id into `first_v` (2 x placement numerator) and `first_i` (AP
    influence); the second folds the differences into `stats` [2 (auc, ap), 3 (count, mean,
    M2), G, 2 (class)]."""
    n = len(s)
    G = state.shape[0]
    grouped = len(code) == n
    scale = np.full(2 * G, np.nan)  # per (group, class): 1 / (2 x the other class's rows); NaN: no AUC
    for g in range(G):
        if totals[g, 1] > 0 and totals[g, 0] > totals[g, 1]:
            scale[2 * g] = 0.5 / totals[g, 1]
            scale[2 * g + 1] = 0.5 / (totals[g, 0] - totals[g, 1])
    out_v = np.empty(TILE if paired else 0)  # this model's per-row values over a tile
    out_i = np.empty(TILE if paired else 0)
    t0 = 0
    while t0 < n:  # tiles of TILE rows, extended to the end of the last tie block
        t1 = min(t0 + TILE, n)
        while t1 < n and s[t1] == s[t1 - 1]:
            t1 += 1
        if paired and t1 - t0 > len(out_v):
            out_v, out_i = np.empty(t1 - t0), np.empty(t1 - t0)
        _blocks(t0, t1, ry, s, code, grouped, totals, state, k, want_auc, want_ap, paired, auc_num, prec_sum,
                out_v, out_i)
        if paired:
            _pair(ry[t0:t1], code[t0:t1] if grouped else code, out_v, out_i, scale, want_auc, want_ap,
                  first, first_v, first_i, stats)
        t0 = t1


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def _blocks(t0: int, t1: int, ry: np.ndarray, s: np.ndarray, code: np.ndarray, grouped: bool, totals: np.ndarray,
            state: np.ndarray, k: int, want_auc: bool, want_ap: bool, paired: bool, auc_num: np.ndarray,
            prec_sum: np.ndarray, out_v: np.ndarray, out_i: np.ndarray) -> None:  # pragma: no cover - compiled
    """Rows t0 to t1 (whole tie blocks): the group sums, and paired, each row's values into
    out_v, out_i (from offset 0)."""
    G = state.shape[0]
    blk = np.zeros((G, 2))  # the current tie block's rows and positives per group
    val = np.zeros((G, 5))  # per group for the current block: n10, n01, prec, cx, cc
    touched = np.empty(G, dtype=np.int64)
    a = t0
    while a < t1:
        sa = s[a]
        b = a + 1
        while b < t1 and s[b] == sa:
            b += 1
        nt = 0
        for i in range(a, b):
            g = code[i] if grouped else 0
            if blk[g, 0] == 0.0:
                touched[nt] = g
                nt += 1
            blk[g, 0] += 1.0
            blk[g, 1] += ry[i] & 1
        for t in range(nt):
            g = touched[t]
            bc = blk[g, 0]
            bp = blk[g, 1]
            m = totals[g, 0]
            P = totals[g, 1]
            cb = state[g, CNT]
            pb = state[g, POS]
            if want_auc and P > 0 and m > P:
                n10 = 2.0 * (cb - pb) + bc - bp
                auc_num[g, k] += bp * n10
                val[g, 0] = n10
                val[g, 1] = 2.0 * (P - pb) - bp
            if want_ap and P > 0:
                rest = m - cb  # rows at or above the block's score
                prec = (P - pb) / rest
                prec_sum[g, k] += bp * prec
                x = bp / rest
                cx = state[g, CX] + x
                cc = state[g, CC] + x * prec
                state[g, CX] = cx
                state[g, CC] = cc
                val[g, 2] = prec
                val[g, 3] = cx
                val[g, 4] = cc
            state[g, CNT] = cb + bc
            state[g, POS] = pb + bp
            blk[g, 0] = 0.0
            blk[g, 1] = 0.0
        if paired:
            for i in range(a, b):
                g = code[i] if grouped else 0
                P = totals[g, 1]
                if want_auc:
                    out_v[i - t0] = val[g, 0] if ry[i] & 1 else val[g, 1]
                if want_ap:
                    out_i[i - t0] = ((ry[i] & 1) * (val[g, 3] + val[g, 2]) - val[g, 4]) / P if P > 0 else np.nan
        a = b


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def _pair(ry: np.ndarray, code: np.ndarray, out_v: np.ndarray, out_i: np.ndarray,
          scale: np.ndarray, want_auc: bool, want_ap: bool, first: bool, first_v: np.ndarray,
          first_i: np.ndarray, stats: np.ndarray) -> None:  # pragma: no cover - compiled
    """The tile's rows paired by row id: the first model stores its values, the second folds
    the differences. Random access, in tight loops of their own (many misses in flight)."""
    n = len(ry)
    grouped = len(code) == n
    if first:
        if want_auc:
            for i in range(n):
                first_v[ry[i] >> 1] = out_v[i]
        if want_ap:
            for i in range(n):
                first_i[ry[i] >> 1] = out_i[i]
        return
    cell = np.empty(n, dtype=np.int64)  # 2 * group + class
    for i in range(n):
        cell[i] = 2 * (code[i] if grouped else 0) + (ry[i] & 1)
    d = np.empty(n)
    if want_auc:
        for i in range(n):
            d[i] = first_v[ry[i] >> 1]
        for i in range(n):  # both placements share the denominator: the exact numerators first
            d[i] = (d[i] - out_v[i]) * scale[cell[i]]
        _fold(d, cell, stats[0])
    if want_ap:
        for i in range(n):
            d[i] = first_i[ry[i] >> 1]
        for i in range(n):
            d[i] -= out_i[i]  # NaN where the group has no positives
        _fold(d, cell, stats[1])


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def _fold(d: np.ndarray, cell: np.ndarray, acc: np.ndarray) -> None:  # pragma: no cover - compiled
    """Fold values into running (count, mean, M2) per cell (acc: [3, G, 2], cell = 2 * g + class):
    the tile's own count, mean and M2 by two passes, then merged (Chan et al.)."""
    cells = acc.shape[1] * 2
    cnt = np.zeros(cells)
    tot = np.zeros(cells)
    for i in range(len(d)):
        cnt[cell[i]] += 1.0
        tot[cell[i]] += d[i]
    mean = tot / np.maximum(cnt, 1.0)
    m2 = np.zeros(cells)
    for i in range(len(d)):
        dev = d[i] - mean[cell[i]]
        m2[cell[i]] += dev * dev
    for j in range(cells):
        nb = cnt[j]
        if nb == 0.0:
            continue
        g = j // 2
        c = j % 2
        na = acc[0, g, c]
        if na == 0.0:
            acc[0, g, c] = nb
            acc[1, g, c] = mean[j]
            acc[2, g, c] = m2[j]
            continue
        tot_n = na + nb
        delta = mean[j] - acc[1, g, c]
        acc[0, g, c] = tot_n
        acc[1, g, c] += delta * nb / tot_n
        acc[2, g, c] += m2[j] + delta * delta * na * nb / tot_n
