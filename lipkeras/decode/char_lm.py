"""Calling a character LM (or decoder) inside a beam search: tokens in, next-character log-probs out.

Shared by the attention beam search of cross-modal readers and the LM-fused CTC beam search.
"""

from __future__ import annotations

import numpy as np

from lipkeras.decode.ctc_prefix import log_softmax


def padded_tokens(tokens: np.ndarray, rows: int) -> np.ndarray:
    """Tokens padded to ``rows`` rows and a multiple of 32 columns: the compiled graphs then see
    few shapes (causal attention makes the padding invisible to the position read back)."""
    n, length = tokens.shape
    width = -(-length // 32) * 32
    out = np.zeros((max(rows, n), width), np.int32)
    out[:n, :length] = tokens
    return out


def lm_step(lm, rows: int):
    """A beam-search step function of a character LM: tokens ``[N, L]`` → next-character log-probs."""
    def step(tokens):
        n, length = tokens.shape
        logits = lm.predict_on_batch(padded_tokens(tokens, rows))
        return log_softmax(np.asarray(logits)[:n, length - 1])
    return step
