"""CTC beam search with character-LM fusion on hand-made CTC posteriors and a table LM."""

import numpy as np

from conftest import table_step
from lipkeras.decode import log_softmax
from lipkeras.decode.ctc_lm import ctc_lm_beam_search

BLANK, A, B_, C, EOS = 0, 1, 2, 3, 4  # blank, 'a', 'b', 'c', <sos/eos>
V = 5


def _table_lm(table):
    return table_step(table, V, EOS)


def _posteriors(frames):
    """CTC log-probs from per-frame {token: prob} dicts (the rest of the mass on nothing)."""
    p = np.full((len(frames), V), 1e-4)
    for t, f in enumerate(frames):
        for tok, prob in f.items():
            p[t, tok] = prob
    p[:, EOS] = 1e-9  # CTC never emits <eos>
    return log_softmax(np.log(p))


# The video says 'a' clearly, then 'b' or 'c' (0.55 / 0.45): greedy reads 'ab'.
CLIP = _posteriors([{A: 0.9}, {BLANK: 0.9}, {B_: 0.55, C: 0.45}, {BLANK: 0.9}])


def test_without_lm_it_is_a_ctc_beam_search():
    best = ctc_lm_beam_search(CLIP, None, EOS, EOS, beam_width=4)[0]
    assert best.tokens == [A, B_]
    assert best.lm_score == 0.0 and np.isclose(best.score, best.ctc_score)


def test_lm_decides_what_the_video_leaves_open():
    lm = {(): {A: 0.9, B_: 0.05, C: 0.05}, (A,): {C: 0.9, B_: 0.1}, (A, C): {EOS: 1.0}, (A, B_): {EOS: 1.0}}
    fused = ctc_lm_beam_search(CLIP, _table_lm(lm), EOS, EOS, lm_weight=1.0, beam_width=4)[0]
    assert fused.tokens == [A, C]
    np.testing.assert_allclose(fused.lm_score, np.log(0.9) + np.log(0.9) + np.log(1.0), atol=1e-3)
    np.testing.assert_allclose(fused.score, fused.ctc_score + fused.lm_score, atol=1e-4)
    # A weak LM cannot overrule a clear video: the first character stays 'a' even if the LM prefers 'b'.
    lm_b = {(): {B_: 0.6, A: 0.4}, (A,): {C: 0.9, B_: 0.1}}
    assert ctc_lm_beam_search(CLIP, _table_lm(lm_b), EOS, EOS, lm_weight=0.5, beam_width=4)[0].tokens[0] == A


def test_length_bonus_counts_characters_not_the_end():
    lm = {(): {A: 0.9, B_: 0.05, C: 0.05}, (A,): {C: 0.9, B_: 0.1}, (A, C): {EOS: 1.0}}
    plain = ctc_lm_beam_search(CLIP, _table_lm(lm), EOS, EOS, lm_weight=1.0, beam_width=4)[0]
    bonus = ctc_lm_beam_search(CLIP, _table_lm(lm), EOS, EOS, lm_weight=1.0, beam_width=4, length_bonus=0.7)[0]
    assert bonus.tokens == plain.tokens
    np.testing.assert_allclose(bonus.score - plain.score, 0.7 * len(plain.tokens), atol=1e-6)
