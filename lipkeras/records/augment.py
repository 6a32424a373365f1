"""Training-time augmentation of clips ``[T, H, W, C]`` (float), as ``tf.data`` map functions.

They live in the input pipeline, not in the model, so inference and exported models never
see a random op.
"""

from __future__ import annotations

import math

from lipkeras._quiet import import_tensorflow

tf = import_tensorflow()


def random_crop(frames, size: int, seed=None):
    """The same random ``size × size`` window for every frame of the clip."""
    shape = tf.shape(frames)
    y = tf.random.uniform([], 0, shape[1] - size + 1, tf.int32, seed=seed)
    x = tf.random.uniform([], 0, shape[2] - size + 1, tf.int32, seed=seed)
    return frames[:, y:y + size, x:x + size, :]


def center_crop(frames, size: int):
    shape = tf.shape(frames)
    y = (shape[1] - size) // 2
    x = (shape[2] - size) // 2
    return frames[:, y:y + size, x:x + size, :]


def random_flip(frames, probability: float = 0.5, seed=None):
    """Mirror the whole clip left–right with ``probability``."""
    flip = tf.random.uniform([], seed=seed) < probability
    return tf.cond(flip, lambda: tf.reverse(frames, axis=[2]), lambda: frames)


def time_mask(frames, length, window: int = 10, stride: int = 25, seed=None):
    """Adaptive time masking: one mask of up to ``window`` frames per ``stride`` frames of clip.

    Masked frames are replaced by the clip's mean frame value (auto_avsr's AdaptiveTimeMask;
    0.4 s windows, one per second, at 25 fps).
    """
    T = tf.shape(frames)[0]
    length = tf.minimum(tf.cast(length, tf.int32), T)
    n = tf.maximum(length // stride, 0)
    widths = tf.random.uniform([n], 0, window, tf.int32, seed=seed)
    starts = tf.cast(tf.random.uniform([n], seed=seed) * tf.cast(tf.maximum(length - widths, 1), tf.float32), tf.int32)
    t = tf.range(T)[:, None]
    masked = tf.reduce_any((t >= starts[None]) & (t < (starts + widths)[None]), axis=1)
    mean = tf.reduce_mean(frames[:length])
    return tf.where(masked[:, None, None, None], tf.cast(mean, frames.dtype), frames)


def speed_perturb(frames, length, max_change: float = 0.1, seed=None):
    """Play the clip at a random speed in ``[1 − max_change, 1 + max_change]`` (nearest frame).

    Speakers differ in rate; resampling the frame index is the video analogue of audio speed
    perturbation. Returns ``(frames, new_length)``; frames past ``length`` are dropped.
    """
    length = tf.minimum(tf.cast(length, tf.int32), tf.shape(frames)[0])
    rate = tf.random.uniform([], 1.0 - max_change, 1.0 + max_change, seed=seed)
    new_length = tf.maximum(tf.cast(tf.round(tf.cast(length, tf.float32) / rate), tf.int32), 1)
    index = tf.cast(tf.floor(tf.cast(tf.range(new_length), tf.float32) * rate), tf.int32)
    return tf.gather(frames, tf.minimum(index, length - 1)), new_length


def similarity_warp(frames, degrees, zoom):
    """Every frame of ``[T, H, W, C]`` rotated by ``degrees`` (counter-clockwise on screen) and
    scaled by ``zoom`` about its centre, edges repeated."""
    angle = tf.cast(degrees, tf.float32) * (math.pi / 180.0)
    zoom = tf.cast(zoom, tf.float32)
    shape = tf.shape(frames)
    cy, cx = (tf.cast(shape[1], tf.float32) - 1.0) / 2.0, (tf.cast(shape[2], tf.float32) - 1.0) / 2.0
    # output pixel (x, y) samples the input at (a0·x + a1·y + a2, b0·x + b1·y + b2): the inverse map
    c, s = tf.cos(angle) / zoom, tf.sin(angle) / zoom
    transform = tf.stack([c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy, 0.0, 0.0])
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(frames, tf.float32), transforms=tf.tile(transform[None], [shape[0], 1]),
        output_shape=shape[1:3], fill_value=0.0, interpolation="BILINEAR", fill_mode="NEAREST")
    return tf.cast(out, frames.dtype)


def random_similarity(frames, max_degrees: float = 0.0, max_scale: float = 0.0, seed=None):
    """Rotate by up to ±``max_degrees`` and scale by up to ±``max_scale``, one draw for the whole
    clip. The similarity warp fixes the face's pose to the reference; this brings back the small
    rotations and sizes that alignment jitter and other speakers' faces have, which a one-speaker
    corpus does not show."""
    degrees = tf.random.uniform([], -max_degrees, max_degrees, seed=seed)
    zoom = tf.random.uniform([], 1.0 - max_scale, 1.0 + max_scale, seed=seed)
    return similarity_warp(frames, degrees, zoom)
