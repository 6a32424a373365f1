"""Left-to-right attention beam search over characters with LM shallow fusion and CTC prefix scores.

Each hypothesis is scored ``(1 − λ_ctc) · log p_att + λ_ctc · log p_ctc-prefix + λ_lm · log p_lm``;
all live hypotheses have the same length, so they are pruned on that raw score; finished ones
(``<eos>`` emitted) are ranked by the score divided by ``length ** length_alpha`` (length
normalisation: without it short outputs win).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from lipkeras.decode.ctc_prefix import CTCPrefixScorer

StepFn = Callable[[np.ndarray], np.ndarray]  # tokens [N, L] → next-token log-probs [N, V]


@dataclasses.dataclass
class BeamResult:
    tokens: list[int]  # characters (no <sos>/<eos>)
    score: float  # the normalised total that ranked it
    attention_score: float
    ctc_score: float
    lm_score: float
    char_logprobs: list[float]  # the attention decoder's log-probability of each character
    eos_logprob: float


@dataclasses.dataclass
class _Hyp:
    tokens: list[int]
    total: float = 0.0
    att: float = 0.0
    ctc: float = 0.0
    lm: float = 0.0
    char_logprobs: list = dataclasses.field(default_factory=list)
    ctc_state: np.ndarray | None = None


def attention_beam_search(
    step: StepFn,
    sos: int,
    eos: int,
    vocab_size: int,
    max_length: int,
    beam_width: int = 5,
    lm_step: StepFn | None = None,
    lm_weight: float = 0.0,
    ctc_logprobs: np.ndarray | None = None,
    ctc_weight: float = 0.0,
    blank: int = 0,
    length_alpha: float = 1.0,
    pre_beam: int | None = None,
    nbest: int = 1,
    length_bonus: float = 0.0,
) -> list[BeamResult]:
    """Decode one clip. ``step``/``lm_step`` map token prefixes ``[N, L]`` (starting with ``sos``)
    to next-token log-probabilities; ``ctc_logprobs [T, V]`` are the clip's CTC log-probs;
    ``length_bonus`` is added per emitted character (it offsets the LM's pull to short outputs)."""
    use_ctc = ctc_weight > 0 and ctc_logprobs is not None
    use_lm = lm_weight != 0 and lm_step is not None
    scorer = CTCPrefixScorer(ctc_logprobs, blank, eos) if use_ctc else None
    candidates_all = np.array([i for i in range(vocab_size) if i not in (blank, sos) or i == eos])
    pre_beam = pre_beam or max(beam_width + 2, int(1.5 * beam_width))
    live = [_Hyp([sos], ctc_state=scorer.initial_state() if use_ctc else None)]
    finished: list[_Hyp] = []
    for length in range(max_length + 1):
        tokens = np.array([h.tokens for h in live], np.int32)
        att = step(tokens)
        lm = lm_step(tokens) if use_lm else np.zeros_like(att)
        base = (1 - ctc_weight if use_ctc else 1.0) * att + (lm_weight * lm if use_lm else 0.0)
        if length == max_length:  # out of room: only <eos> may follow
            cands = np.full((len(live), 1), eos)
        elif use_ctc:
            part = base[:, candidates_all]
            k = min(pre_beam, len(candidates_all))
            cands = candidates_all[np.argsort(-part, axis=1)[:, :k]]
        else:
            cands = np.repeat(candidates_all[None], len(live), axis=0)
        if use_ctc:
            states = np.stack([h.ctc_state for h in live])
            last = np.array([h.tokens[-1] if len(h.tokens) > 1 else -1 for h in live])
            psi, new_states = scorer.score(states, last, length, cands)
        pool = []
        for i, h in enumerate(live):
            for j, c in enumerate(cands[i]):
                c = int(c)
                total = h.total + base[i, c] + (length_bonus if c != eos else 0.0)
                ctc = h.ctc
                if use_ctc:
                    ctc = float(psi[i, j])
                    total += ctc_weight * (ctc - h.ctc)
                pool.append((total, i, j, c, ctc))
        pool.sort(key=lambda p: -p[0])
        new_live = []
        for total, i, j, c, ctc in pool[: beam_width]:
            h = live[i]
            hyp = _Hyp(h.tokens + [c], total, h.att + float(att[i, c]), ctc, h.lm + float(lm[i, c]),
                       h.char_logprobs + [float(att[i, c])],
                       new_states[i, j] if use_ctc and c != eos else None)
            (finished if c == eos else new_live).append(hyp)
        live = new_live
        if not live or len(finished) >= max(beam_width, nbest):
            break

    def normalised(h: _Hyp) -> float:
        return h.total / (max(1, len(h.tokens) - 1) ** length_alpha)

    ranked = sorted(finished or live, key=normalised, reverse=True)
    out = []
    for h in ranked[:nbest]:
        ended = h.tokens[-1] == eos
        chars = h.tokens[1:-1] if ended else h.tokens[1:]
        out.append(BeamResult(chars, normalised(h), h.att, h.ctc, h.lm,
                              h.char_logprobs[: len(chars)], h.char_logprobs[-1] if ended else float("nan")))
    return out
