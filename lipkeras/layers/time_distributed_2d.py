import keras
from keras import ops


@keras.saving.register_keras_serializable(package="lipkeras")
class FrameFold(keras.layers.Layer):
    """``[B, T, H, W, C]`` → ``[B·T, H, W, C]``: run 2D layers on every frame at once."""

    def build(self, input_shape):
        self.built = True

    def call(self, x):
        return ops.reshape(x, (-1,) + tuple(x.shape[2:]))

    def compute_output_shape(self, input_shape):
        return (None,) + tuple(input_shape[2:])


@keras.saving.register_keras_serializable(package="lipkeras")
class FrameUnfold(keras.layers.Layer):
    """``([B·T, ...], reference [B, T, ...])`` → ``[B, T, prod(...)]`` (per-frame feature vectors)."""

    def build(self, input_shape):
        self.built = True

    def call(self, inputs):
        x, ref = inputs
        shape = ops.shape(ref)
        feat = 1
        for d in x.shape[1:]:
            feat *= d
        return ops.reshape(x, (shape[0], shape[1], feat))

    def compute_output_shape(self, input_shape):
        x, ref = input_shape
        feat = 1
        for d in x[1:]:
            feat *= d
        return (ref[0], ref[1], feat)
