import keras
from keras import ops

from lipkeras.layers.residual_block import ResidualBlock

LAYOUTS = {
    # name: (block kind, blocks per stage, filters per stage); outputs 64/128/256/512 or 256/512/1024/2048
    "resnet18": ("basic", (2, 2, 2, 2), (64, 128, 256, 512)),
    "resnet34": ("basic", (3, 4, 6, 3), (64, 128, 256, 512)),
    "resnet50": ("bottleneck", (3, 4, 6, 3), (64, 128, 256, 512)),
}


@keras.saving.register_keras_serializable(package="lipkeras")
class ResNetTrunk(keras.layers.Layer):
    """A ResNet applied to every frame: ``[B, T, H, W, C]`` → the feature map of every stage.

    Returns a list ``[[B, T, H_s, W_s, C_s] for each stage s]`` (the "scales" that the local-pool
    attention reads). The first stage keeps the resolution (the stem already pooled), the others
    halve it. ``layout`` names a standard layout (``resnet18``, ``resnet34``, ``resnet50``) or is
    ``None`` to use ``block``/``stage_blocks``/``stage_filters`` as given.
    """

    def __init__(self, layout=None, block="basic", stage_blocks=(2, 2, 2, 2), stage_filters=(64, 128, 256, 512),
                 **kwargs):
        super().__init__(**kwargs)
        if layout is not None:
            if layout not in LAYOUTS:
                raise ValueError(f"unknown ResNet layout {layout!r}; choose from {', '.join(LAYOUTS)}")
            block, stage_blocks, stage_filters = LAYOUTS[layout]
        if block not in ("basic", "bottleneck") or len(stage_blocks) != len(stage_filters):
            raise ValueError("ResNetTrunk: block is basic|bottleneck and one filter count per stage")
        self.layout, self.block = layout, block
        self.stage_blocks = tuple(int(b) for b in stage_blocks)
        self.stage_filters = tuple(int(f) for f in stage_filters)
        self.supports_masking = True
        self.stages = [
            [ResidualBlock(f, strides=(2 if s > 0 and i == 0 else 1), bottleneck=block == "bottleneck",
                           name=f"stage{s + 1}_block{i + 1}", dtype=self.dtype_policy) for i in range(n)]
            for s, (n, f) in enumerate(zip(self.stage_blocks, self.stage_filters))
        ]

    def build(self, input_shape):
        shape = (None,) + tuple(input_shape[2:])
        for stage in self.stages:
            for blk in stage:
                blk.build(shape)
                shape = blk.compute_output_shape(shape)
        self.built = True

    def call(self, x, mask=None, training=None):
        b, t = ops.shape(x)[0], ops.shape(x)[1]
        y = ops.reshape(x, (-1,) + tuple(x.shape[2:]))  # fold time into the batch: 2D convs per frame
        m = None if mask is None else ops.reshape(ops.cast(mask, y.dtype), (b, t, 1, 1, 1))
        outputs = []
        for stage in self.stages:
            for blk in stage:
                y = blk(y, training=training)
            out = ops.reshape(y, (b, t) + tuple(y.shape[1:]))
            outputs.append(out if m is None else out * ops.cast(m, out.dtype))
        return outputs

    def compute_mask(self, x, mask=None):
        return None if mask is None else [mask] * len(self.stages)

    def compute_output_shape(self, input_shape):
        shape = (None,) + tuple(input_shape[2:])
        shapes = []
        for stage in self.stages:
            for blk in stage:
                shape = blk.compute_output_shape(shape)
            shapes.append(tuple(input_shape[:2]) + tuple(shape[1:]))
        return shapes

    def get_config(self):
        config = super().get_config()
        config.update(layout=None, block=self.block, stage_blocks=self.stage_blocks,
                      stage_filters=self.stage_filters)
        return config
