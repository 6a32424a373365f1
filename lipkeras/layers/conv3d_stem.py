import keras
from keras import ops


@keras.saving.register_keras_serializable(package="lipkeras")
class Conv3DStem(keras.layers.Layer):
    """The visual front end's spatiotemporal stem: Conv3D → BatchNorm → ReLU → 3D max-pool.

    ``[B, T, H, W, C]`` → ``[B, T, H', W', filters]`` (time is never strided, so every frame keeps
    its own feature map for the per-frame ResNet). Padded frames (``mask`` False) are zeroed before
    the convolution, so the temporal kernel never sees their content, and zeroed again after.
    """

    def __init__(self, filters=64, kernel_size=(5, 7, 7), strides=(1, 2, 2), pool_size=(1, 3, 3),
                 pool_strides=(1, 2, 2), **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = tuple(int(k) for k in kernel_size)
        self.strides = tuple(int(s) for s in strides)
        self.pool_size = tuple(int(p) for p in pool_size)
        self.pool_strides = tuple(int(s) for s in pool_strides)
        if self.strides[0] != 1 or self.pool_strides[0] != 1:
            raise ValueError("Conv3DStem keeps every frame: temporal strides must be 1")
        self.supports_masking = True
        self.conv = keras.layers.Conv3D(self.filters, self.kernel_size, strides=self.strides, padding="same",
                                        use_bias=False, name="conv", dtype=self.dtype_policy)
        self.bn = keras.layers.BatchNormalization(name="bn", dtype=self.dtype_policy)
        self.pool = keras.layers.MaxPooling3D(self.pool_size, self.pool_strides, padding="same", name="pool",
                                              dtype=self.dtype_policy)

    def build(self, input_shape):
        self.conv.build(input_shape)
        shape = self.conv.compute_output_shape(input_shape)
        self.bn.build(shape)
        self.pool.build(shape)
        self.built = True

    def call(self, x, mask=None, training=None):
        m = None if mask is None else ops.cast(ops.reshape(mask, (ops.shape(x)[0], ops.shape(x)[1], 1, 1, 1)),
                                               x.dtype)
        if m is not None:
            x = x * m
        y = self.pool(ops.relu(self.bn(self.conv(x), training=training)))
        return y if m is None else y * ops.cast(m, y.dtype)

    def compute_mask(self, x, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return self.pool.compute_output_shape(self.conv.compute_output_shape(input_shape))

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, strides=self.strides,
                      pool_size=self.pool_size, pool_strides=self.pool_strides)
        return config
