"""The cross-modal reader's visual module: frames → multi-motion-informed context (MC).

3D-conv stem → per-frame ResNet whose every stage (and the stem) is a "scale" → one local-pool
attention (LPA) per scale → weighted dynamic aggregation (WDA) → post-FFN. Each scale sees the
lips at a different granularity; the attention over time in each LPA models motion at that
granularity, and WDA learns how much each one matters (read it with ``scale_weights()``).
"""

from __future__ import annotations

import math

import keras

from lipkeras.layers import (Conv3DStem, LocalPoolAttention, MouthPreprocessing, PositionwiseFeedForward, ResNetTrunk,
                             SequenceMask, WeightedDynamicAggregation)
from lipkeras.models.base import ConfigModel
from lipkeras.models.lipnet import frame_inputs


@keras.saving.register_keras_serializable(package="lipkeras")
class MultiMotionEncoder(ConfigModel):
    """``{"frames": [B, T, H, W, C] in [0, 1], "frame_lengths": [B]}`` → MC ``[B, T, d_model]``.

    ``lpa_grid`` sets each scale's pooling so its map becomes about ``lpa_grid × lpa_grid`` before
    it is flattened; ``scales`` picks which maps feed an LPA (0 = stem, 1… = ResNet stages;
    default all).
    """

    def __init__(
        self,
        input_size=(44, 44),
        channels=1,
        normalization="clip",
        stem_filters=64,
        stem_kernel=(5, 7, 7),
        resnet_layout=None,
        block="basic",
        stage_blocks=(2, 2, 2, 2),
        stage_filters=(64, 128, 256, 512),
        scales=None,
        lpa_grid=2,
        d_model=256,
        num_heads=4,
        ffn_dim=1024,
        dropout=0.1,
        **kwargs,
    ):
        frames, lengths = frame_inputs(channels)
        mask = SequenceMask(name="mask")([frames, lengths])
        x = MouthPreprocessing(input_size, normalization, name="preprocess")(frames, mask=mask)
        stem = Conv3DStem(stem_filters, stem_kernel, name="stem")(x, mask=mask)
        trunk = ResNetTrunk(resnet_layout, block, stage_blocks, stage_filters, name="resnet")
        maps = [stem] + list(trunk(stem, mask=mask))
        chosen = list(range(len(maps))) if scales is None else [int(s) for s in scales]
        contexts = []
        for s in chosen:
            h = maps[s].shape[2]
            pool = max(1, math.ceil(h / lpa_grid)) if h else 1
            contexts.append(LocalPoolAttention(d_model, num_heads, pool, dropout, name=f"lpa{s}")(maps[s], mask=mask))
        mc = WeightedDynamicAggregation(d_model, name="wda")(contexts, mask=mask)
        mc = PositionwiseFeedForward(ffn_dim, dropout=dropout, residual=True, name="post_ffn")(mc)
        super().__init__(inputs={"frames": frames, "frame_lengths": lengths}, outputs=mc, **kwargs)
        self.config = dict(
            input_size=tuple(input_size), channels=channels, normalization=normalization, stem_filters=stem_filters,
            stem_kernel=tuple(stem_kernel), resnet_layout=resnet_layout, block=block,
            stage_blocks=tuple(stage_blocks), stage_filters=tuple(stage_filters),
            scales=None if scales is None else tuple(scales), lpa_grid=lpa_grid, d_model=d_model,
            num_heads=num_heads, ffn_dim=ffn_dim, dropout=dropout,
        )

    def scale_weights(self):
        """WDA's normalised weight of each scale, in ``scales`` order."""
        return self.get_layer("wda").scale_weights()

    def lpa_layers(self) -> list:
        """The LocalPoolAttention layers, one per scale, in ``scales`` order."""
        count = sum(isinstance(layer, LocalPoolAttention) for layer in self.layers)
        scales = self.config["scales"] if self.config["scales"] is not None else range(count)
        return [self.get_layer(f"lpa{s}") for s in scales]

    def scale_maps(self, frames, frame_lengths) -> list:
        """Each scale's feature map ``[B, T, H, W, C]`` (what its LPA reads) for a batch, in ``scales`` order."""
        inputs = [lpa.input for lpa in self.lpa_layers()]  # [map, mask] where it was called with a mask
        probe = keras.Model(self.inputs, [x[0] if isinstance(x, (list, tuple)) else x for x in inputs])
        out = probe({"frames": frames, "frame_lengths": frame_lengths}, training=False)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def lpa_attention(self, frames, frame_lengths) -> list:
        """Each scale's LPA attention over time ``[B, heads, T, T]`` for a batch, in ``scales`` order
        (rows: the frame attending; columns: the frames it reads; padded frames are never read)."""
        from keras import ops

        mask = ops.arange(ops.shape(frames)[1])[None, :] < ops.reshape(ops.convert_to_tensor(frame_lengths), (-1, 1))
        return [lpa.attention_scores(x, mask=mask)
                for lpa, x in zip(self.lpa_layers(), self.scale_maps(frames, frame_lengths))]
