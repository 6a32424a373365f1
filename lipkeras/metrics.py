"""Text metrics with jiwer: WER, CER, sentence accuracy."""

from __future__ import annotations


def text_metrics(references: list[str], hypotheses: list[str]) -> dict:
    import jiwer

    refs = [r if r.strip() else "<empty>" for r in references]
    hyps = [h if h.strip() else "" for h in hypotheses]
    return {
        "wer": float(jiwer.wer(refs, hyps)),
        "cer": float(jiwer.cer(refs, hyps)),
        "sentence_accuracy": float(sum(r == h for r, h in zip(references, hypotheses)) / max(len(refs), 1)),
        "clips": len(refs),
    }


def clip_errors(reference: str, hypothesis: str) -> tuple[float, float]:
    import jiwer

    ref = reference if reference.strip() else "<empty>"
    return float(jiwer.wer(ref, hypothesis)), float(jiwer.cer(ref, hypothesis))
