import math

import keras
from keras import ops

from lipkeras.layers.position_encoding import SinusoidalPositionEncoding


@keras.saving.register_keras_serializable(package="lipkeras")
class LocalPoolAttention(keras.layers.Layer):
    """Local-pool attention (LPA) over one scale: motion of that scale's features across time.

    ``[B, T, H, W, C]`` → spatial max-pool (``pool_size``, "same") → flatten per frame → input
    projection to ``d_model`` → sinusoidal position encoding → LayerNorm → multi-head scaled
    dot-product self-attention over time → residual → ``[B, T, d_model]``. Keys at padded frames
    are masked, so real frames never read padding; padded outputs are zero.
    """

    def __init__(self, d_model=256, num_heads=4, pool_size=2, dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        self.d_model, self.num_heads = int(d_model), int(num_heads)
        self.pool_size, self.dropout_rate = int(pool_size), float(dropout)
        if self.d_model % self.num_heads:
            raise ValueError(f"d_model {d_model} is not divisible by num_heads {num_heads}")
        self.supports_masking = True
        self.pool = keras.layers.MaxPooling2D(self.pool_size, padding="same", name="pool", dtype=self.dtype_policy)
        self.projection = keras.layers.Dense(self.d_model, name="input_projection", dtype=self.dtype_policy)
        self.position = SinusoidalPositionEncoding(name="position", dtype=self.dtype_policy)
        self.norm = keras.layers.LayerNormalization(epsilon=1e-5, name="norm", dtype=self.dtype_policy)
        self.attention = keras.layers.MultiHeadAttention(self.num_heads, self.d_model // self.num_heads,
                                                         dropout=self.dropout_rate, name="attention",
                                                         dtype=self.dtype_policy)
        self.dropout = keras.layers.Dropout(self.dropout_rate, dtype=self.dtype_policy)

    def build(self, input_shape):
        _, _, h, w, c = input_shape
        if None in (h, w, c):
            raise ValueError(f"LocalPoolAttention needs static H, W, C, got {input_shape}")
        self.pool.build((None, h, w, c))
        self.flat_dim = math.ceil(h / self.pool_size) * math.ceil(w / self.pool_size) * c
        self.projection.build((None, None, self.flat_dim))
        shape = (None, None, self.d_model)
        self.position.build(shape)
        self.norm.build(shape)
        self.attention.build(shape, shape)
        self.built = True

    def call(self, x, mask=None, training=None):
        return self._attend(x, mask, training)

    def attention_scores(self, x, mask=None):
        """The attention weights over time ``[B, heads, T (query), T (key)]`` for ``x [B, T, H, W, C]``
        (inference: no dropout): which frames each frame reads, i.e. the motion this scale models."""
        return self._attend(x, mask, False, scores=True)[1]

    def _attend(self, x, mask, training, scores=False):
        b, t = ops.shape(x)[0], ops.shape(x)[1]
        pooled = self.pool(ops.reshape(x, (-1,) + tuple(x.shape[2:])))
        h = self.position(self.projection(ops.reshape(pooled, (b, t, self.flat_dim))))
        attention_mask = None
        if mask is not None:
            attention_mask = ops.repeat(ops.expand_dims(ops.cast(mask, "bool"), 1), t, axis=1)  # [B, Tq, Tk]
        n = self.norm(h)
        # the weights only when asked: without them Keras may take its fused attention path
        attended = self.attention(n, n, attention_mask=attention_mask, training=training,
                                  return_attention_scores=scores)
        attended, weights = attended if scores else (attended, None)
        y = h + self.dropout(attended, training=training)
        if mask is not None:
            y = y * ops.cast(ops.expand_dims(mask, -1), y.dtype)
        return (y, weights) if scores else y

    def compute_mask(self, x, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.d_model)

    def get_config(self):
        config = super().get_config()
        config.update(d_model=self.d_model, num_heads=self.num_heads, pool_size=self.pool_size,
                      dropout=self.dropout_rate)
        return config
