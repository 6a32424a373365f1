"""Sentences for the character language model: from records' transcripts or from text files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lipkeras.records.vocab import DEFAULT, Vocabulary


def _from_records(source, ids=None) -> list[str]:
    import tensorflow as tf

    from lipkeras.records.reader import read_ids, records

    keep = None if ids is None else set(read_ids(ids))  # an empty list keeps nothing, not everything
    spec = {"clip_id": tf.io.FixedLenFeature([], tf.string),
            "transcript": tf.io.FixedLenFeature([], tf.string, default_value="")}
    out = []
    for raw in records(source):
        r = tf.io.parse_single_example(raw, spec)
        if keep is None or r["clip_id"].numpy().decode() in keep:
            out.append(r["transcript"].numpy().decode())
    return out


def _from_text_file(path: Path) -> list[str]:
    lines = path.read_text(errors="replace").splitlines()
    tagged = [ln.split(":", 1)[1] for ln in lines if ln.startswith("Text:")]  # LRS2/LRS3 transcript files
    return tagged if tagged else lines


def is_records(source) -> bool:
    from lipkeras.records.io import list_shards

    if Path(str(source)).suffix.lower() in (".txt", ".json", ".npz"):  # text, a list or arrays: never a shard
        return False
    try:
        return bool(list_shards(str(source)))
    except (FileNotFoundError, ValueError):
        return False


def split_heldout(sentences: list[str], fraction: float = 0.1, seed: int = 0):
    """(train, held_out): a seeded ``fraction`` of the sentences held out (at least one)."""
    order = np.random.default_rng(seed).permutation(len(sentences))
    n = max(1, int(round(len(sentences) * fraction)))
    return [sentences[i] for i in order[n:]], [sentences[i] for i in order[:n]]


def load_sentences(source: str | Path, ids=None, vocab: Vocabulary = DEFAULT) -> list[str]:
    """Normalised, non-empty sentences of ``source``: a records folder/shard/glob (transcripts,
    only clips in ``ids`` unless it is ``None``: ``[]`` gives none), a text file (one sentence per
    line) or a folder of ``.txt``."""
    p = Path(source)
    if is_records(source):
        raw = _from_records(source, ids)
    elif p.is_file():
        raw = _from_text_file(p)
    elif p.is_dir():
        raw = [s for f in sorted(p.rglob("*.txt")) for s in _from_text_file(f)]
    else:
        raise FileNotFoundError(f"{source}: no records, text file or folder of .txt files")
    sentences = [vocab.decode(vocab.encode(s)).strip() for s in raw]
    return [s for s in sentences if s]


def lm_arrays(sentences: list[str], vocab: Vocabulary = DEFAULT, max_length: int = 200):
    """``(tokens, targets)`` int32 ``[N, L+1]``: ``<sos>`` + chars → chars + ``<eos>``, padded with 0."""
    encoded = [vocab.encode(s)[:max_length] for s in sentences]
    width = max((len(e) for e in encoded), default=0) + 1
    tokens = np.zeros((len(encoded), width), np.int32)
    targets = np.zeros((len(encoded), width), np.int32)
    for i, e in enumerate(encoded):
        tokens[i, 0] = vocab.sos
        tokens[i, 1:len(e) + 1] = e
        targets[i, :len(e)] = e
        targets[i, len(e)] = vocab.eos
    return tokens, targets
