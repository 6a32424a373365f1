"""CTC decoding: greedy (best path) and beam search, to text with the shared vocabulary."""

from __future__ import annotations

import numpy as np

from lipkeras.records.vocab import DEFAULT, Vocabulary


def greedy_ids(logits, lengths=None, blank: int = Vocabulary.BLANK) -> list[np.ndarray]:
    """Best path: argmax per frame, merge repeats, drop blanks. ``logits [B, T, V]``."""
    x = np.asarray(logits)
    best = x.argmax(-1)
    out = []
    for b in range(best.shape[0]):
        seq = best[b, : int(lengths[b])] if lengths is not None else best[b]
        keep = np.ones_like(seq, bool)
        keep[1:] = seq[1:] != seq[:-1]
        out.append(seq[keep & (seq != blank)])
    return out


def frame_ids(logits, length: int | None = None) -> list[int]:
    """The best token of each frame of one clip's ``logits [T, V]``, before greedy decoding merges
    repeats and drops blanks: the raw CTC tokens (``Vocabulary.tokens()`` names them)."""
    x = np.asarray(logits)
    return x[: length if length is not None else len(x)].argmax(-1).astype(int).tolist()


def beam_ids(logits, lengths=None, beam_width: int = 10, blank: int = Vocabulary.BLANK):
    """Beam search over CTC prefixes (``keras.ops.ctc_decode``); returns ids and log-probabilities."""
    from keras import ops

    x = np.asarray(logits, np.float32)
    if lengths is None:
        lengths = np.full((x.shape[0],), x.shape[1], np.int32)
    decoded, scores = ops.ctc_decode(x, np.asarray(lengths, np.int32), strategy="beam_search",
                                     beam_width=beam_width, top_paths=1, mask_index=blank)
    seqs = np.asarray(decoded)[0]
    ids = [s[(s >= 0) & (s != blank)] for s in seqs]
    return ids, np.asarray(scores)[:, 0]


def decode(logits, lengths=None, beam_width: int = 0, vocab: Vocabulary = DEFAULT) -> list[str]:
    """Text for each clip: greedy when ``beam_width`` ≤ 1, else beam search."""
    if beam_width and beam_width > 1:
        ids, _ = beam_ids(logits, lengths, beam_width)
    else:
        ids = greedy_ids(logits, lengths)
    return [" ".join(vocab.decode(i).split()) for i in ids]  # CTC may emit stray or doubled spaces
