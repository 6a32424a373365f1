import keras
from keras import ops


@keras.saving.register_keras_serializable(package="lipkeras")
class PositionwiseFeedForward(keras.layers.Layer):
    """``ReLU(x W1 + b1) W2 + b2`` on every time step (the design's post-FFN; also the decoder's FFN).

    ``residual=True`` adds the input back (then ``output_dim`` must equal the input size);
    ``norm=True`` puts a LayerNorm in front (pre-norm), as inside the transformer blocks.
    """

    def __init__(self, hidden_dim=1024, output_dim=None, dropout=0.0, residual=False, norm=False, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)
        self.output_dim = None if output_dim is None else int(output_dim)
        self.dropout_rate, self.residual, self.use_norm = float(dropout), bool(residual), bool(norm)
        self.supports_masking = True
        self.norm = keras.layers.LayerNormalization(epsilon=1e-5, name="norm", dtype=self.dtype_policy) if norm else None
        self.inner = keras.layers.Dense(self.hidden_dim, name="inner", dtype=self.dtype_policy)
        self.outer = None
        self.dropout = keras.layers.Dropout(self.dropout_rate, dtype=self.dtype_policy)

    def build(self, input_shape):
        out = self.output_dim or input_shape[-1]
        if self.residual and out != input_shape[-1]:
            raise ValueError(f"residual FFN needs output_dim == input size ({input_shape[-1]}), got {out}")
        if self.norm is not None:
            self.norm.build(input_shape)
        self.inner.build(input_shape)
        self.outer = keras.layers.Dense(out, name="outer", dtype=self.dtype_policy)
        self.outer.build(tuple(input_shape[:-1]) + (self.hidden_dim,))
        self.built = True

    def call(self, x, training=None):
        h = self.norm(x) if self.norm is not None else x
        y = self.outer(self.dropout(ops.relu(self.inner(h)), training=training))
        y = self.dropout(y, training=training)
        return x + y if self.residual else y

    def compute_mask(self, x, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dim or input_shape[-1],)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dim=self.hidden_dim, output_dim=self.output_dim, dropout=self.dropout_rate,
                      residual=self.residual, norm=self.use_norm)
        return config
