import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="lipkeras")
class WeightedDynamicAggregation(keras.layers.Layer):
    """Weighted dynamic aggregation (WDA) of the per-scale LPA outputs.

    ``[x_1 … x_n]`` (each ``[B, T, D]``) → ``(Σ λ_i x_i) W_o + b_o`` with ``λ = softmax(w)`` learned,
    so the weights are positive, sum to one and can be read with :meth:`scale_weights`.
    """

    def __init__(self, d_model=256, **kwargs):
        super().__init__(**kwargs)
        self.d_model = int(d_model)
        self.supports_masking = True
        self.output_projection = keras.layers.Dense(self.d_model, name="output_projection", dtype=self.dtype_policy)

    def build(self, input_shape):
        shapes = list(input_shape)
        if len({tuple(s[2:]) for s in shapes}) != 1:
            raise ValueError(f"WDA inputs must share their feature size, got {shapes}")
        self.num_inputs = len(shapes)
        self.scale_logits = self.add_weight(shape=(self.num_inputs,), initializer="zeros", name="scale_logits")
        self.output_projection.build(shapes[0])
        self.built = True

    def call(self, inputs, mask=None):
        weights = ops.softmax(self.scale_logits)
        y = inputs[0] * ops.cast(weights[0], inputs[0].dtype)
        for i in range(1, self.num_inputs):
            y = y + inputs[i] * ops.cast(weights[i], inputs[i].dtype)
        return self.output_projection(y)

    def scale_weights(self) -> np.ndarray:
        """The normalised λ, one per input scale."""
        return np.asarray(ops.convert_to_numpy(ops.softmax(self.scale_logits)))

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        return mask[0] if isinstance(mask, (list, tuple)) else mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (self.d_model,)

    def get_config(self):
        config = super().get_config()
        config.update(d_model=self.d_model)
        return config
