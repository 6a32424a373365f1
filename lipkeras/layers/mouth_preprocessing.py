import keras
import numpy as np
from keras import ops


def antialias_taps(factor: int) -> tuple[int, np.ndarray]:
    """Offsets' start and weights of antialiased bilinear downsampling by an integer ``factor``:
    the triangle filter stretched by ``factor`` (what ``ops.image.resize(..., antialias=True)`` uses)."""
    d = np.arange(-factor, 2 * factor + 1)
    w = np.maximum(0.0, 1.0 - np.abs(d + 0.5 - 0.5 * factor) / factor)
    keep = w > 0
    return int(d[keep][0]), (w[keep] / w[keep].sum()).astype("float32")


def downsample_antialiased(x, factor: int, axis: int):
    """``ops.image.resize(antialias=True)`` along one axis (1 or 2) of ``[N, H, W, C]`` by an integer
    factor, as a strided convolution: the same numbers, but ops every runtime has (TFLite has no
    ScaleAndTranslate). A plain one-channel convolution with channels moved into the batch, not a
    depthwise one: TensorFlow's CPU depthwise kernel refuses unequal strides on CPUs without
    oneDNN's AVX-512 path. Taps that fall outside are dropped and the rest renormalised."""
    start, w = antialias_taps(factor)
    size, channels = x.shape[axis], x.shape[-1]
    out = size // factor
    pad = [[0, 0]] * 4
    pad[axis] = [-start, max((out - 1) * factor + start + len(w) - size, 0)]
    shape = (len(w), 1, 1, 1) if axis == 1 else (1, len(w), 1, 1)
    kernel = ops.convert_to_tensor(w.reshape(shape), x.dtype)
    strides = (factor, 1) if axis == 1 else (1, factor)
    ones = np.ones((1, *(x.shape[1:3]), 1), "float32")
    norm = ops.conv(ops.pad(ops.convert_to_tensor(ones, x.dtype), pad), kernel, strides)
    if channels == 1:
        return ops.conv(ops.pad(x, pad), kernel, strides) / norm
    shape = ops.shape(x)
    planes = ops.reshape(ops.transpose(x, (0, 3, 1, 2)), (-1, shape[1], shape[2], 1))
    y = ops.conv(ops.pad(planes, pad), kernel, strides) / norm
    y_shape = ops.shape(y)
    return ops.transpose(ops.reshape(y, (-1, channels, y_shape[1], y_shape[2])), (0, 2, 3, 1))


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
            h, w = x.shape[2:4]
            flat = ops.reshape(x, (-1, shape[2], shape[3], c))
            if h and w and h % self.size[0] == 0 and w % self.size[1] == 0:
                flat = downsample_antialiased(flat, h // self.size[0], 1) if h > self.size[0] else flat
                flat = downsample_antialiased(flat, w // self.size[1], 2) if w > self.size[1] else flat
            else:
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
