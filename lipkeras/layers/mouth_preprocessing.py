import keras
from keras import ops


@keras.saving.register_keras_serializable(package="lipkeras")
class MouthPreprocessing(keras.layers.Layer):
    """Mouth clips in [0, 1] ``[B, T, H, W, C]`` → resized to ``size`` and normalised per clip.

    Inside the model so that exported models take plain frames. ``normalization="clip"``
    subtracts each clip's mean and divides by its std over its real frames (``mask``), as the
    LipNet seeds do; ``"fixed"`` uses the constant ``mean``/``std``; ``None`` leaves [0, 1].
    """

    def __init__(self, size=(44, 44), normalization="clip", mean=0.421, std=0.165, **kwargs):
        super().__init__(**kwargs)
        self.size = tuple(int(s) for s in size)
        self.normalization = normalization
        self.mean, self.std = float(mean), float(std)
        self.supports_masking = True

    def build(self, input_shape):
        self.channels = input_shape[-1]
        self.built = True

    def call(self, frames, mask=None):
        x = ops.cast(frames, self.compute_dtype)
        shape = ops.shape(x)
        b, t, c = shape[0], shape[1], self.channels or x.shape[-1]
        if tuple(x.shape[2:4]) != self.size:  # static sizes may be unknown (None): resize is then a no-op cost
            flat = ops.reshape(x, (-1, shape[2], shape[3], c))
            flat = ops.image.resize(flat, self.size, interpolation="bilinear", antialias=True)
            x = ops.reshape(flat, (b, t, self.size[0], self.size[1], c))
        if self.normalization == "clip":
            if mask is None:
                m = ops.ones((b, t, 1, 1, 1), x.dtype)
            else:
                m = ops.cast(ops.reshape(mask, (b, t, 1, 1, 1)), x.dtype)
            n = ops.maximum(ops.sum(m, axis=(1, 2, 3, 4), keepdims=True) * (self.size[0] * self.size[1] * c), 1.0)
            mean = ops.sum(x * m, axis=(1, 2, 3, 4), keepdims=True) / n
            var = ops.sum(ops.square(x - mean) * m, axis=(1, 2, 3, 4), keepdims=True) / n
            x = (x - mean) / ops.maximum(ops.sqrt(var), 1e-3) * m
        elif self.normalization == "fixed":
            x = (x - self.mean) / self.std
        return x

    def compute_mask(self, frames, mask=None):
        return None  # later layers get the mask explicitly (convolutions cannot carry it)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.size[0], self.size[1], input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(size=self.size, normalization=self.normalization, mean=self.mean, std=self.std)
        return config
