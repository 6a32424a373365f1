"""TensorFlow graph pieces of the exported signatures: input preparation and decoding to text.

Everything here runs inside a SavedModel (TF Serving, ``tf.saved_model.load``) with core TF ops
only, so a REST client sends frames or ``tf.Example``s and gets text or labels back.
"""

from __future__ import annotations

from lipkeras._quiet import import_tensorflow
from lipkeras.records.vocab import Vocabulary

tf = import_tensorflow()

# ITU-R 601 luma, the weights the Python readers use (EmotionReader.predict_faces)
LUMA = (0.299, 0.587, 0.114)


def ctc_greedy_ids(log_probs, lengths):
    """Best path per clip: argmax per frame, merge repeats, drop blanks and frames past ``lengths``.

    Returns ``[B, T]`` ids with 0 (blank) where a frame is dropped, for :func:`ids_to_text`.
    """
    best = tf.argmax(log_probs, axis=-1, output_type=tf.int32)
    valid = tf.sequence_mask(lengths, tf.shape(best)[1])
    previous = tf.pad(best[:, :-1], [[0, 0], [1, 0]], constant_values=-1)
    keep = valid & tf.not_equal(best, previous) & tf.not_equal(best, Vocabulary.BLANK)
    return tf.where(keep, best, tf.zeros_like(best))


def ids_to_text(ids, vocab: Vocabulary):
    """``[B, L]`` ids → ``[B]`` strings, whitespace normalised as the Python decoders do."""
    text = vocab.tf_decode(ids)
    return tf.strings.strip(tf.strings.regex_replace(text, " +", " "))


def crop_frames(frames, crop_size: int):
    """uint8 ROI frames ``[B, T, H, W, C]`` → centre ``crop_size`` crop, float32 in [0, 1].

    The same crop as ``lipkeras.lipreader.prepare_frames`` (frames already at the crop size pass
    through; smaller ones are zero-padded around the centre).
    """
    shape = tf.shape(frames)
    flat = tf.reshape(frames, tf.concat([[-1], shape[2:]], 0))
    flat = tf.image.resize_with_crop_or_pad(flat, crop_size, crop_size)
    out = tf.reshape(flat, tf.concat([shape[:2], [crop_size, crop_size], shape[4:]], 0))
    return tf.cast(out, tf.float32) / 255.0


def faces_to_model(faces, size: int, channels: int):
    """Faces ``[N, H, W, 1 or 3]`` (uint8 or float in [0, 1]) → float32 ``[N, size, size, channels]``."""
    x = tf.cast(faces, tf.float32)
    if faces.dtype == tf.uint8:
        x = x / 255.0
    if channels == 1:
        luma = tf.constant(LUMA, tf.float32)
        x = tf.cond(tf.shape(x)[-1] == 3,
                    lambda: tf.reduce_sum(x * luma, axis=-1, keepdims=True),
                    lambda: x[..., :1])
    else:
        x = tf.cond(tf.shape(x)[-1] == 1, lambda: tf.tile(x, [1, 1, 1, 3]), lambda: x[..., :3])
    x.set_shape([None, None, None, channels])
    # area averaging, like cv2.INTER_AREA in the Python reader, when shrinking video faces
    return tf.image.resize(x, (size, size), method="area")


def parse_roi_examples(serialized, roi: str):
    """Serialized records-schema examples ``[B]`` → ``(frames uint8 [B, T_max, H, W, C], lengths [B],
    clip_ids [B])``; shorter clips are zero-padded in time (all clips of one request share H, W, C)."""
    spec = {
        "clip_id": tf.io.FixedLenFeature([], tf.string, default_value=""),
        "num_frames": tf.io.FixedLenFeature([], tf.int64),
        f"{roi}/frames": tf.io.FixedLenFeature([], tf.string, default_value=""),
        f"{roi}/shape": tf.io.FixedLenFeature([3], tf.int64, default_value=[0, 0, 0]),
    }
    ex = tf.io.parse_example(serialized, spec)
    lengths = tf.cast(ex["num_frames"], tf.int32)
    shapes = tf.cast(ex[f"{roi}/shape"], tf.int32)
    t_max = tf.reduce_max(tf.concat([lengths, [0]], 0))

    def one(args):
        raw, shape, n = args
        tf.debugging.assert_positive(tf.reduce_prod(shape), message=f"an example has no {roi} frames")
        frames = tf.reshape(tf.io.decode_raw(raw, tf.uint8), tf.concat([[n], shape], 0))
        return tf.pad(frames, [[0, t_max - n], [0, 0], [0, 0], [0, 0]])

    frames = tf.map_fn(one, (ex[f"{roi}/frames"], shapes, lengths),
                       fn_output_signature=tf.TensorSpec([None, None, None, None], tf.uint8))
    return frames, lengths, ex["clip_id"]


def sample_frames(frames, length, max_frames: int):
    """At most ``max_frames`` of a clip's first ``length`` frames, evenly spaced (the video-level
    prediction's frame sampling, as ``EmotionReader.classify_faces``)."""
    n = tf.maximum(length, 1)
    index = tf.cond(n > max_frames,  # float64 + truncation: the same indices as np.linspace(...).astype(int)
                    lambda: tf.cast(tf.linspace(tf.constant(0.0, tf.float64), tf.cast(n - 1, tf.float64), max_frames),
                                    tf.int32),
                    lambda: tf.range(n))
    return tf.gather(frames, index)
