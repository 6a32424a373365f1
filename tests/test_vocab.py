import numpy as np
import tensorflow as tf

from lipkeras.records.vocab import DEFAULT, Vocabulary


def test_ids_are_defined_once():
    v = Vocabulary("ab ")
    assert v.BLANK == 0 and v.PAD == 0
    assert v.size == 5 and v.sos == v.eos == 4
    assert v.tokens() == ["<blank>", "a", "b", " ", "<sos/eos>"]


def test_encode_decode_roundtrip_and_filtering():
    ids = DEFAULT.encode("Bin  BLUE at f2, now!")
    assert ids.dtype == np.int32 and ids.min() > 0 and ids.max() < DEFAULT.sos
    assert DEFAULT.decode(ids) == "bin blue at f2 now"
    assert DEFAULT.decode([0, *ids.tolist(), DEFAULT.eos, 0]) == "bin blue at f2 now"


def test_tf_encode_matches_numpy():
    text = "set white by k nine again"
    tf_ids = DEFAULT.tf_encode(tf.constant(text)).numpy()
    np.testing.assert_array_equal(tf_ids, DEFAULT.encode(text))
    assert DEFAULT.tf_decode(tf.constant([tf_ids.tolist() + [0, 0]])).numpy()[0].decode() == text


def test_duplicate_characters_rejected():
    import pytest

    with pytest.raises(ValueError):
        Vocabulary("aa")
