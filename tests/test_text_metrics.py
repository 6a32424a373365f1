"""WER/CER with their bootstrap intervals over clips."""

import pytest

from lipkeras.metrics import bootstrap_intervals, text_metrics

REFS = ["bin blue at l six now", "set red by c two please", "lay green in d one soon", "place white with z nine again"]


def test_perfect_transcripts_have_a_zero_interval():
    m = text_metrics(REFS, REFS)
    assert m["wer"] == m["cer"] == 0.0 and m["sentence_accuracy"] == 1.0
    assert m["wer_ci95"] == [0.0, 0.0] and m["cer_ci95"] == [0.0, 0.0]


def test_interval_brackets_the_corpus_rate_and_is_reproducible():
    hyps = ["bin blue at l six now", "set red by g two please", "lay green in t one soon", "place white at z nine"]
    m = text_metrics(REFS, hyps)
    assert m["wer"] == pytest.approx(4 / 24)  # g, t, at: substitutions; again: a deletion
    lo, hi = m["wer_ci95"]
    assert 0.0 <= lo < m["wer"] < hi <= 1.0
    assert m["cer_ci95"][0] < m["cer"] < m["cer_ci95"][1]
    assert bootstrap_intervals(REFS, hyps) == bootstrap_intervals(REFS, hyps)  # seeded
    assert bootstrap_intervals(REFS, hyps) == bootstrap_intervals(REFS[::-1], hyps[::-1])  # clip order
    wider = bootstrap_intervals(REFS, hyps, level=0.99)["wer_ci99"]
    assert wider[0] <= lo and wider[1] >= hi


def test_no_clips_no_interval():
    assert bootstrap_intervals([], []) == {}
