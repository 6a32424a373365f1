"""Named model configurations."""

from __future__ import annotations

from lipkeras.models.fast_lipreader import FastLipReader
from lipkeras.models.lipnet import LipNet

PRESETS = {
    # The LipNet paper (Assael et al. 2016): 3×(Conv3D + spatial dropout + pool), BiGRU 256 ×2.
    "lipnet_paper": (LipNet, dict(input_size=(50, 100), conv_filters=(32, 64, 96),
                                  conv_kernels=((3, 5, 5), (3, 5, 5), (3, 3, 3)),
                                  conv_strides=((1, 2, 2), (1, 1, 1), (1, 1, 1)), spatial_dropout=0.5,
                                  rnn_type="gru", rnn_units=256, rnn_layers=2)),
    # The seed notebook: Conv3D 128/256/75 (3×3×3), BiLSTM 128 ×2 with dropout 0.5, on 46×140.
    "lipnet_seed": (LipNet, dict(input_size=(46, 140), conv_filters=(128, 256, 75),
                                 conv_kernels=((3, 3, 3),) * 3, conv_strides=((1, 1, 1),) * 3, spatial_dropout=0.0,
                                 rnn_type="lstm", rnn_units=128, rnn_layers=2, rnn_dropout=0.5)),
    "fast": (FastLipReader, {}),
    # Wider trunk and GRU (2.8 M parameters): trained past `fast` (whose restarts converged); no better on test.
    "fast_wide": (FastLipReader, dict(trunk_filters=(96, 192), rnn_units=192)),
    # `fast` on the full 88×88 crop (2× finer) with one more pool: the same weights fit (--init-from a `fast` model).
    "fast_hires": (FastLipReader, dict(input_size=(88, 88), final_pool=2)),
    # Tiny shapes for tests.
    "fast_tiny": (FastLipReader, dict(input_size=(16, 16), stem_filters=4, trunk_filters=(8, 8), frame_features=16,
                                      rnn_units=8, rnn_layers=1)),
    "lipnet_tiny": (LipNet, dict(input_size=(16, 16), conv_filters=(4, 4, 4), rnn_units=8, rnn_layers=1)),
}


def build_model(preset: str, vocab_size: int, **overrides):
    if preset not in PRESETS:
        raise ValueError(f"unknown model preset {preset!r}; choose from {', '.join(PRESETS)}")
    cls, kwargs = PRESETS[preset]
    return cls(vocab_size=vocab_size, **{**kwargs, **overrides}, name=preset)
