"""Records: the TFRecord schema, the character vocabulary and the ``tf.data`` readers."""

from lipkeras.records.vocab import DEFAULT as DEFAULT_VOCAB
from lipkeras.records.vocab import Vocabulary


def __getattr__(name):  # the readers import TensorFlow: load them on first use
    if name in ("mouth_dataset", "face_dataset", "keras_pair", "records", "normalize"):
        from lipkeras.records import reader

        return getattr(reader, name)
    raise AttributeError(name)


__all__ = ["Vocabulary", "DEFAULT_VOCAB", "mouth_dataset", "face_dataset", "keras_pair", "records", "normalize"]
