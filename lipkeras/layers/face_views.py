"""Test-time views of a face batch, and the mean of a model's predictions over them."""

import keras
from keras import ops

VIEW_COUNTS = (1, 2, 5, 10)


@keras.saving.register_keras_serializable(package="lipkeras")
class FaceViews(keras.layers.Layer):
    """``faces [B, H, W, C]`` → ``[V·B, H, W, C]``, view-major: the faces themselves, then (5 or 10
    views) the faces shifted ``shift`` pixels up, down, left and right (edges repeated), then
    (2 or 10 views) the mirror images of all of those.

    Averaging a classifier over such views (``ViewAverage``) is the usual test-time augmentation
    of FER models (ten-crop in the literature); the views match the training augmentation (flips,
    shifts), so the classifier has seen faces like them. Identity while ``training``: the
    augmentation of training batches happens in ``tf.data``, not here.
    """

    def __init__(self, views=10, shift=2, **kwargs):
        super().__init__(**kwargs)
        if views not in VIEW_COUNTS:
            raise ValueError(f"FaceViews: views must be one of {VIEW_COUNTS}, got {views!r}")
        self.views, self.shift = int(views), int(shift)
        self.supports_masking = False

    def build(self, input_shape):
        if len(input_shape) != 4 or None in tuple(input_shape[1:3]):
            raise ValueError(f"FaceViews needs faces [B, H, W, C] of a static size, got {input_shape}")
        self.height, self.width = int(input_shape[1]), int(input_shape[2])
        self.built = True

    def _shifted(self, faces, dy, dx):
        # out[i, j] = faces[clip(i - dy), clip(j - dx)]: a translation that repeats the edge rows/columns
        rows = ops.clip(ops.arange(self.height) - dy, 0, self.height - 1)
        cols = ops.clip(ops.arange(self.width) - dx, 0, self.width - 1)
        return ops.take(ops.take(faces, rows, axis=1), cols, axis=2)

    def call(self, faces, training=False):
        if training or self.views == 1:
            return faces
        views = [faces]
        if self.views in (5, 10):
            s = self.shift
            views += [self._shifted(faces, dy, dx) for dy, dx in ((-s, 0), (s, 0), (0, -s), (0, s))]
        if self.views in (2, 10):
            views += [ops.flip(v, axis=2) for v in views]
        return ops.concatenate(views, axis=0)

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else input_shape[0] * self.views
        return (batch,) + tuple(input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "views": self.views, "shift": self.shift}


@keras.saving.register_keras_serializable(package="lipkeras")
class ViewAverage(keras.layers.Layer):
    """``[V·B, K]`` view-major predictions (of ``FaceViews`` inputs) → their mean over the views ``[B, K]``.
    Identity while ``training``."""

    def __init__(self, views=10, **kwargs):
        super().__init__(**kwargs)
        if views not in VIEW_COUNTS:
            raise ValueError(f"ViewAverage: views must be one of {VIEW_COUNTS}, got {views!r}")
        self.views = int(views)

    def build(self, input_shape):
        self.built = True

    def call(self, predictions, training=False):
        if training or self.views == 1:
            return predictions
        k = ops.shape(predictions)[-1]
        return ops.mean(ops.reshape(predictions, (self.views, -1, k)), axis=0)

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else input_shape[0] // self.views
        return (batch,) + tuple(input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "views": self.views}
