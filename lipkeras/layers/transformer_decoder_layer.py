import keras
from keras import ops

from lipkeras.layers.position_wise_feed_forward import PositionwiseFeedForward


@keras.saving.register_keras_serializable(package="lipkeras")
class TransformerDecoderLayer(keras.layers.Layer):
    """One pre-norm transformer decoder block.

    ``x [B, L, D]`` → causal self-attention (+ key ``padding_mask [B, L]``) → optional cross-attention to
    ``memory [B, T, D_m]`` (keys masked by ``memory_mask``) → FFN; each sub-block is
    ``x + Dropout(Sub(LayerNorm(x)))``. With ``cross_attention=False`` (a language model) or
    ``memory=None`` the cross-attention is skipped.
    """

    def __init__(self, d_model=256, num_heads=4, ff_dim=1024, dropout=0.1, cross_attention=True, **kwargs):
        super().__init__(**kwargs)
        self.d_model, self.num_heads, self.ff_dim = int(d_model), int(num_heads), int(ff_dim)
        self.dropout_rate, self.cross_attention = float(dropout), bool(cross_attention)
        if self.d_model % self.num_heads:
            raise ValueError(f"d_model {d_model} is not divisible by num_heads {num_heads}")
        self.supports_masking = True
        key_dim = self.d_model // self.num_heads

        def mha(name):
            return keras.layers.MultiHeadAttention(self.num_heads, key_dim, dropout=self.dropout_rate, name=name,
                                                   dtype=self.dtype_policy)

        def ln(name):
            return keras.layers.LayerNormalization(epsilon=1e-5, name=name, dtype=self.dtype_policy)

        self.self_attention, self.self_norm = mha("self_attention"), ln("self_attention_norm")
        self.cross_attention_layer = mha("cross_attention") if self.cross_attention else None
        self.cross_norm = ln("cross_attention_norm") if self.cross_attention else None
        self.ffn = PositionwiseFeedForward(self.ff_dim, dropout=self.dropout_rate, residual=True, norm=True,
                                           name="ffn", dtype=self.dtype_policy)
        self.dropout = keras.layers.Dropout(self.dropout_rate, dtype=self.dtype_policy)

    def build(self, x_shape, memory_shape=None):
        self.self_norm.build(x_shape)
        self.self_attention.build(x_shape, x_shape)
        if self.cross_attention:
            # The memory may be absent at build time (e.g. a pre-trained LM being extended):
            # assume it has the decoder's width until told otherwise.
            memory_shape = memory_shape or x_shape
            self.cross_norm.build(x_shape)
            self.cross_attention_layer.build(x_shape, memory_shape)
        self.ffn.build(x_shape)
        self.built = True

    def call(self, x, memory=None, padding_mask=None, memory_mask=None, training=None):
        padding = None
        if padding_mask is not None:
            padding = ops.repeat(ops.expand_dims(ops.cast(padding_mask, "bool"), 1), ops.shape(x)[1], axis=1)
        n = self.self_norm(x)
        x = x + self.dropout(self.self_attention(n, n, attention_mask=padding, use_causal_mask=True,
                                                 training=training), training=training)
        if self.cross_attention and memory is not None:
            cross_mask = None
            if memory_mask is not None:
                cross_mask = ops.repeat(ops.expand_dims(ops.cast(memory_mask, "bool"), 1), ops.shape(x)[1], axis=1)
            n = self.cross_norm(x)
            x = x + self.dropout(self.cross_attention_layer(n, memory, attention_mask=cross_mask, training=training),
                                 training=training)
        return self.ffn(x, training=training)

    def compute_mask(self, x, mask=None):
        return None  # masks travel as explicit arguments (padding_mask / memory_mask), not as Keras masks

    def compute_output_shape(self, x_shape, memory_shape=None):
        return x_shape

    def get_config(self):
        config = super().get_config()
        config.update(d_model=self.d_model, num_heads=self.num_heads, ff_dim=self.ff_dim, dropout=self.dropout_rate,
                      cross_attention=self.cross_attention)
        return config
