import keras
from keras import ops


@keras.saving.register_keras_serializable(package="lipkeras")
class SinusoidalPositionEncoding(keras.layers.Layer):
    """``x [B, T, D]`` → ``x + PE[:T]`` with the fixed sine/cosine encoding of "Attention is all you need".

    Computed for the actual length on every call, so any T works and nothing is stored.
    """

    def __init__(self, max_wavelength=10000.0, **kwargs):
        super().__init__(**kwargs)
        self.max_wavelength = float(max_wavelength)
        self.supports_masking = True

    def build(self, input_shape):
        if input_shape[-1] is None or input_shape[-1] % 2:
            raise ValueError(f"SinusoidalPositionEncoding needs an even, known feature size, got {input_shape}")
        self.built = True

    def call(self, x):
        t, d = ops.shape(x)[1], x.shape[-1]
        position = ops.cast(ops.arange(t), "float32")[:, None]
        rates = ops.power(self.max_wavelength, -2.0 * ops.cast(ops.arange(d // 2), "float32") / d)
        angles = position * rates[None, :]
        pe = ops.reshape(ops.stack([ops.sin(angles), ops.cos(angles)], axis=-1), (t, d))
        return x + ops.cast(pe, x.dtype)[None]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(max_wavelength=self.max_wavelength)
        return config
