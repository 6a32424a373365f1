import math

import keras
from keras import ops

from lipkeras.layers.position_encoding import SinusoidalPositionEncoding
from lipkeras.layers.transformer_decoder_layer import TransformerDecoderLayer


@keras.saving.register_keras_serializable(package="lipkeras")
class TransformerDecoder(keras.layers.Layer):
    """Character transformer decoder: ``tokens [B, L]`` (+ optional ``memory``) → logits ``[B, L, V]``.

    Character embedding (scaled by √D) + sinusoidal positions → ``num_layers`` decoder blocks →
    LayerNorm → the output layer (a softmax over the vocabulary; logits returned). Token id
    ``pad_id`` marks padding. Without ``memory`` it is a character language model; the same
    weights are then extended with cross-attention to the visual context.
    """

    def __init__(self, vocab_size, d_model=256, num_layers=2, num_heads=4, ff_dim=1024, dropout=0.1,
                 cross_attention=True, pad_id=0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.d_model, self.num_layers = int(vocab_size), int(d_model), int(num_layers)
        self.num_heads, self.ff_dim, self.dropout_rate = int(num_heads), int(ff_dim), float(dropout)
        self.cross_attention, self.pad_id = bool(cross_attention), int(pad_id)
        self.embedding = keras.layers.Embedding(self.vocab_size, self.d_model, name="embedding",
                                                dtype=self.dtype_policy)
        self.position = SinusoidalPositionEncoding(name="position", dtype=self.dtype_policy)
        self.dropout = keras.layers.Dropout(self.dropout_rate, dtype=self.dtype_policy)
        self.blocks = [TransformerDecoderLayer(self.d_model, self.num_heads, self.ff_dim, self.dropout_rate,
                                               self.cross_attention, name=f"layer{i + 1}", dtype=self.dtype_policy)
                       for i in range(self.num_layers)]
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm", dtype=self.dtype_policy)
        self.output_layer = keras.layers.Dense(self.vocab_size, name="output_layer", dtype=self.dtype_policy)

    def build(self, tokens_shape, memory_shape=None):
        self.embedding.build(tokens_shape)
        shape = tuple(tokens_shape) + (self.d_model,)
        self.position.build(shape)
        for block in self.blocks:
            block.build(shape, memory_shape)
        self.final_norm.build(shape)
        self.output_layer.build(shape)
        self.built = True

    def hidden(self, tokens, memory=None, memory_mask=None, training=None):
        """The final (normed) hidden states ``[B, L, D]`` that the output layer reads."""
        padding = ops.not_equal(tokens, self.pad_id)
        x = self.embedding(tokens) * ops.cast(math.sqrt(self.d_model), self.compute_dtype)
        x = self.dropout(self.position(x), training=training)
        for block in self.blocks:
            x = block(x, memory=memory, padding_mask=padding, memory_mask=memory_mask, training=training)
        return self.final_norm(x)

    def call(self, tokens, memory=None, memory_mask=None, training=None):
        h = self.hidden(tokens, memory, memory_mask, training)
        return ops.cast(self.output_layer(h), "float32")

    def compute_mask(self, tokens, mask=None):
        return None

    def compute_output_shape(self, tokens_shape, memory_shape=None):
        return tuple(tokens_shape) + (self.vocab_size,)

    def get_config(self):
        config = super().get_config()
        config.update(vocab_size=self.vocab_size, d_model=self.d_model, num_layers=self.num_layers,
                      num_heads=self.num_heads, ff_dim=self.ff_dim, dropout=self.dropout_rate,
                      cross_attention=self.cross_attention, pad_id=self.pad_id)
        return config
