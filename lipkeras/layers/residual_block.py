import keras
from keras import ops


@keras.saving.register_keras_serializable(package="lipkeras")
class ResidualBlock(keras.layers.Layer):
    """A 2D ResNet block on ``[N, H, W, C]``: ``basic`` (two 3×3) or ``bottleneck`` (1×1, 3×3, 1×1 ×4).

    The shortcut is a strided 1×1 conv + BN when the shape changes (ResNet "option B").
    Output channels: ``filters`` (basic) or ``filters * expansion`` (bottleneck).
    """

    def __init__(self, filters, strides=1, bottleneck=False, expansion=4, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.strides = int(filters), int(strides)
        self.bottleneck, self.expansion = bool(bottleneck), int(expansion)
        self.out_channels = self.filters * (self.expansion if self.bottleneck else 1)

        def conv(f, k, s, name):
            return keras.layers.Conv2D(f, k, strides=s, padding="same", use_bias=False, name=name,
                                       dtype=self.dtype_policy)

        if self.bottleneck:
            specs = [(self.filters, 1, 1), (self.filters, 3, self.strides), (self.out_channels, 1, 1)]
        else:
            specs = [(self.filters, 3, self.strides), (self.filters, 3, 1)]
        self.convs = [conv(f, k, s, f"conv{i + 1}") for i, (f, k, s) in enumerate(specs)]
        self.norms = [keras.layers.BatchNormalization(name=f"bn{i + 1}", dtype=self.dtype_policy)
                      for i in range(len(specs))]
        self.shortcut_conv = self.shortcut_bn = None

    def build(self, input_shape):
        shape = input_shape
        for c, n in zip(self.convs, self.norms):
            c.build(shape)
            shape = c.compute_output_shape(shape)
            n.build(shape)
        if self.strides != 1 or input_shape[-1] != self.out_channels:
            self.shortcut_conv = keras.layers.Conv2D(self.out_channels, 1, strides=self.strides, padding="same",
                                                     use_bias=False, name="shortcut_conv", dtype=self.dtype_policy)
            self.shortcut_bn = keras.layers.BatchNormalization(name="shortcut_bn", dtype=self.dtype_policy)
            self.shortcut_conv.build(input_shape)
            self.shortcut_bn.build(self.shortcut_conv.compute_output_shape(input_shape))
        self.built = True

    def call(self, x, training=None):
        y = x
        last = len(self.convs) - 1
        for i, (c, n) in enumerate(zip(self.convs, self.norms)):
            y = n(c(y), training=training)
            if i < last:
                y = ops.relu(y)
        shortcut = x if self.shortcut_conv is None else self.shortcut_bn(self.shortcut_conv(x), training=training)
        return ops.relu(y + shortcut)

    def compute_output_shape(self, input_shape):
        shape = input_shape
        for c in self.convs:
            shape = c.compute_output_shape(shape)
        return shape

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, strides=self.strides, bottleneck=self.bottleneck,
                      expansion=self.expansion)
        return config
