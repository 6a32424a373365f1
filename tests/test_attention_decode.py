"""Attention beam search, LM fusion and CTC prefix scores on hand-made models where the answer is known."""

import itertools

import numpy as np

from conftest import table_step
from lipkeras.decode import CTCPrefixScorer, attention_beam_search, log_softmax

BLANK, A, B_, EOS = 0, 1, 2, 3  # vocabulary: blank/pad, 'a', 'b', <sos/eos>
V = 4


def _table_step(table):
    return table_step(table, V, EOS)


# Greedy takes 'a' (0.55) then must stop (0.4): 0.22. The best sequence is 'b' <eos>: 0.45 · 0.95 = 0.43.
ATT = {(): {A: 0.55, B_: 0.45}, (A,): {EOS: 0.4, A: 0.3, B_: 0.3}, (B_,): {EOS: 0.95, A: 0.05}}


def test_beam_finds_the_best_path_greedy_misses():
    greedy = attention_beam_search(_table_step(ATT), EOS, EOS, V, max_length=5, beam_width=1, length_alpha=0.0)[0]
    assert greedy.tokens == [A]
    best = attention_beam_search(_table_step(ATT), EOS, EOS, V, max_length=5, beam_width=3, length_alpha=0.0)[0]
    assert best.tokens == [B_]
    np.testing.assert_allclose(best.score, np.log(0.45 * 0.95), atol=1e-4)
    np.testing.assert_allclose(best.char_logprobs, [np.log(0.45)], atol=1e-4)
    np.testing.assert_allclose(best.eos_logprob, np.log(0.95), atol=1e-4)


def test_lm_fusion_moves_the_answer_and_reports_its_score():
    lm = {(): {A: 0.99, B_: 0.01}, (A,): {EOS: 0.5, A: 0.25, B_: 0.25}}
    fused = attention_beam_search(_table_step(ATT), EOS, EOS, V, max_length=5, beam_width=3, length_alpha=0.0,
                                  lm_step=_table_step(lm), lm_weight=1.0)[0]
    assert fused.tokens == [A]
    np.testing.assert_allclose(fused.lm_score, np.log(0.99) + np.log(0.5), atol=1e-3)
    np.testing.assert_allclose(fused.score, fused.attention_score + fused.lm_score, atol=1e-4)


def _ctc_prob(logp, label, prefix=False):
    """Brute force over every CTC path: P(output == label) or P(output starts with label)."""
    T = logp.shape[0]
    total = 0.0
    for path in itertools.product(range(logp.shape[1] - 1), repeat=T):  # <eos> is never emitted by CTC
        out = [c for i, c in enumerate(path) if c != BLANK and (i == 0 or c != path[i - 1])]
        if (out[: len(label)] == list(label)) if prefix else (out == list(label)):
            total += np.exp(sum(logp[t, c] for t, c in enumerate(path)))
    return total


def test_ctc_prefix_scores_match_brute_force():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, V))
    logits[:, EOS] = -1e9
    logp = log_softmax(logits)
    scorer = CTCPrefixScorer(logp, BLANK, EOS)
    state = scorer.initial_state()
    psi, states = scorer.score(state[None], np.array([-1]), 0, np.array([[A, B_, EOS]]))
    np.testing.assert_allclose(np.exp(psi[0, 0]), _ctc_prob(logp, [A], prefix=True), rtol=1e-6)
    np.testing.assert_allclose(np.exp(psi[0, 1]), _ctc_prob(logp, [B_], prefix=True), rtol=1e-6)
    np.testing.assert_allclose(np.exp(psi[0, 2]), _ctc_prob(logp, []), rtol=1e-6)
    # one more step from 'a': 'aa' needs a blank between, 'ab' does not; <eos> = exactly 'a'
    psi2, _ = scorer.score(states[0, :1], np.array([A]), 1, np.array([[A, B_, EOS]]))
    np.testing.assert_allclose(np.exp(psi2[0, 0]), _ctc_prob(logp, [A, A], prefix=True), rtol=1e-6)
    np.testing.assert_allclose(np.exp(psi2[0, 1]), _ctc_prob(logp, [A, B_], prefix=True), rtol=1e-6)
    np.testing.assert_allclose(np.exp(psi2[0, 2]), _ctc_prob(logp, [A]), rtol=1e-6)


def test_ctc_weight_overrules_the_attention_decoder():
    logits = np.full((5, V), -10.0)
    logits[:, BLANK] = 0.0
    logits[2, A] = 5.0  # the frames clearly say 'a'
    logits[:, EOS] = -1e9
    best = attention_beam_search(_table_step(ATT), EOS, EOS, V, max_length=5, beam_width=3, length_alpha=0.0,
                                 ctc_logprobs=log_softmax(logits), ctc_weight=0.5)[0]
    assert best.tokens == [A]
    assert best.ctc_score > -1.0


def test_max_length_forces_an_end():
    loop = {(): {A: 1.0}, (A,): {A: 1.0}, (A, A): {A: 1.0}, (A, A, A): {A: 1.0}}
    out = attention_beam_search(_table_step(loop), EOS, EOS, V, max_length=3, beam_width=2)[0]
    assert len(out.tokens) <= 3
