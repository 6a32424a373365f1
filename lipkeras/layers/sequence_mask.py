import keras
from keras import ops


@keras.saving.register_keras_serializable(package="lipkeras")
class SequenceMask(keras.layers.Layer):
    """``(frames [B, T, ...], lengths [B])`` → boolean mask ``[B, T]`` of the real (unpadded) frames."""

    def build(self, input_shape):
        self.built = True

    def call(self, inputs):
        frames, lengths = inputs
        t = ops.arange(ops.shape(frames)[1], dtype="int32")
        return ops.less(t[None, :], ops.cast(ops.reshape(lengths, (-1, 1)), "int32"))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:2])
