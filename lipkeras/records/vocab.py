"""The character vocabulary shared by records, models and decoders.

Ids are defined once, here: ``0`` is both the CTC blank and the padding of label tensors (a
blank never occurs inside a target, so the two cannot be confused; lengths mark the real end),
then the characters, then ``<sos/eos>`` last, as in hybrid CTC/attention recognisers.
"""

from __future__ import annotations

import dataclasses

import numpy as np

DEFAULT_CHARS = " abcdefghijklmnopqrstuvwxyz0123456789'"


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    chars: str = DEFAULT_CHARS

    BLANK = 0
    PAD = 0

    def __post_init__(self):
        if len(set(self.chars)) != len(self.chars):
            raise ValueError("vocabulary characters must be unique")

    @property
    def sos(self) -> int:
        return len(self.chars) + 1

    @property
    def eos(self) -> int:
        return self.sos

    @property
    def size(self) -> int:
        """Number of output classes: blank/pad + characters + sos/eos."""
        return len(self.chars) + 2

    def __len__(self) -> int:
        return self.size

    def tokens(self) -> list[str]:
        return ["<blank>"] + list(self.chars) + ["<sos/eos>"]

    def encode(self, text: str) -> np.ndarray:
        """Character ids of ``text`` (lower-cased; characters outside the vocabulary are dropped)."""
        index = {c: i + 1 for i, c in enumerate(self.chars)}
        return np.array([index[c] for c in " ".join(text.lower().split()) if c in index], np.int32)

    def decode(self, ids) -> str:
        """Text of ids, ignoring blank/pad and sos/eos."""
        return "".join(self.chars[i - 1] for i in np.asarray(ids).ravel().tolist() if 0 < i <= len(self.chars))

    def tf_lookup(self):
        """A ``tf.lookup.StaticHashTable`` from character (string) to id; unknown → -1."""
        import tensorflow as tf

        keys = tf.constant(list(self.chars))
        values = tf.range(1, len(self.chars) + 1, dtype=tf.int32)
        return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values), default_value=-1)

    def tf_encode(self, text, table=None):
        """Graph-mode :meth:`encode` for ``tf.data`` (pass a prebuilt ``table`` inside ``map``)."""
        import tensorflow as tf

        table = table if table is not None else self.tf_lookup()
        text = tf.strings.lower(tf.strings.strip(tf.strings.regex_replace(text, r"\s+", " ")))
        ids = table.lookup(tf.strings.unicode_split(text, "UTF-8"))
        return tf.boolean_mask(ids, ids >= 0)

    def tf_decode(self, ids):
        """Graph-mode :meth:`decode`: ``[..., L]`` int ids → strings."""
        import tensorflow as tf

        chars = tf.constant(["", *self.chars, ""])
        ids = tf.where((ids > 0) & (ids <= len(self.chars)), ids, 0)
        return tf.strings.reduce_join(tf.gather(chars, ids), axis=-1)


DEFAULT = Vocabulary()
