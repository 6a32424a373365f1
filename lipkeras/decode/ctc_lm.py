"""CTC beam search with character-LM shallow fusion, for CTC-only lip readers.

Label-synchronous: hypotheses grow a character at a time, scored
``log p_ctc-prefix(y) + λ_lm · log p_lm(y) + β · |y|``: the hybrid search of
``attention_beam`` with no attention decoder. Every character is a candidate (no pre-beam by
the LM): the LM must not prune what only the video can tell apart (GRID's 25 letters are
equally likely to a language model).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lipkeras.decode.attention_beam import BeamResult, StepFn, attention_beam_search


@dataclasses.dataclass
class CTCDecodingConfig:
    """A CTC model's default decoding: ``beam_width`` 1 is greedy; above 1, beam search, fused with
    the model's character LM when it ships one and ``lm_weight`` > 0 (else TF's CTC beam search)."""

    beam_width: int = 1
    lm_weight: float = 0.0
    length_bonus: float = 0.0


def ctc_lm_beam_search(
    ctc_logprobs: np.ndarray,
    lm_step: StepFn | None,
    sos: int,
    eos: int,
    lm_weight: float = 0.5,
    beam_width: int = 10,
    length_bonus: float = 0.0,
    blank: int = 0,
    max_length: int | None = None,
    nbest: int = 1,
) -> list[BeamResult]:
    """Decode one clip from its CTC log-probs ``[T, V]`` (real frames only)."""
    T, V = ctc_logprobs.shape
    return attention_beam_search(
        lambda tokens: np.zeros((tokens.shape[0], V)), sos, eos, V, max_length=min(T, max_length or T),
        beam_width=beam_width, lm_step=lm_step, lm_weight=lm_weight if lm_step is not None else 0.0,
        ctc_logprobs=ctc_logprobs, ctc_weight=1.0, blank=blank, length_alpha=0.0, pre_beam=V, nbest=nbest,
        length_bonus=length_bonus)
