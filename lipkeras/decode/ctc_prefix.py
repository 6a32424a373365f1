"""CTC prefix scores for attention beam search (Watanabe et al., hybrid CTC/attention, 2017).

For a prefix ``g`` and candidate characters ``c``, the CTC prefix score is the log-probability
that the CTC output *starts* with ``g + c`` (for ``<eos>``: that it *is* ``g``). Kept as forward
variables ``r[t, n|b]`` (paths over the first t frames that emit g, ending in a non-blank / a
blank), updated in O(T) per candidate; vectorised here over hypotheses and candidates.
"""

from __future__ import annotations

import numpy as np

NEG_INF = -1e30


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = np.asarray(x, np.float64)
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


class CTCPrefixScorer:
    """Prefix scores over one clip's CTC log-probabilities ``logp [T, V]`` (real frames only)."""

    def __init__(self, logp: np.ndarray, blank: int, eos: int):
        self.logp = np.asarray(logp, np.float64)
        self.T = self.logp.shape[0]
        self.blank, self.eos = int(blank), int(eos)

    def initial_state(self) -> np.ndarray:
        """Forward variables of the empty prefix: ``[T, 2]`` (non-blank end, blank end)."""
        r = np.full((self.T, 2), NEG_INF)
        r[:, 1] = np.cumsum(self.logp[:, self.blank])
        return r

    def score(self, states: np.ndarray, last: np.ndarray, prefix_len: int, candidates: np.ndarray):
        """Extend ``N`` prefixes (all of length ``prefix_len``) by ``K`` candidates each.

        ``states [N, T, 2]``, ``last [N]`` (last character of each prefix, -1 if empty),
        ``candidates [N, K]`` → ``(psi [N, K], new_states [N, K, T, 2])``.
        """
        N, K = candidates.shape
        T = self.T
        x = self.logp[:, candidates]  # [T, N, K]
        xb = self.logp[:, self.blank]
        r = np.full((T, 2, N, K), NEG_INF)
        if prefix_len == 0:
            r[0, 0] = x[0]
        r_sum = np.logaddexp(states[:, :, 0], states[:, :, 1]).T  # [T, N]
        phi = np.repeat(r_sum[:, :, None], K, axis=2)  # [T, N, K]
        same = candidates == np.asarray(last)[:, None]  # a repeated character needs a blank in between
        if same.any():
            blank_end = np.repeat(states[:, :, 1].T[:, :, None], K, axis=2)
            phi = np.where(same[None], blank_end, phi)
        start = max(prefix_len, 1)
        psi = r[start - 1, 0].copy()
        for t in range(start, T):
            r[t, 0] = np.logaddexp(r[t - 1, 0], phi[t - 1]) + x[t]
            r[t, 1] = np.logaddexp(r[t - 1, 0], r[t - 1, 1]) + xb[t]
            psi = np.logaddexp(psi, phi[t - 1] + x[t])
        is_eos = candidates == self.eos
        if is_eos.any():
            psi = np.where(is_eos, r_sum[-1][:, None], psi)
        return psi, np.transpose(r, (2, 3, 0, 1))
