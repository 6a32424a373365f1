"""Lip-reading models: ``LipNet`` (the design's baseline, two presets) and ``FastLipReader``.

Every model takes ``{"frames": [B, T, H, W, C] in [0, 1], "frame_lengths": [B]}`` and returns
per-frame CTC logits ``[B, T, vocab]`` (blank = 0; padded frames forced to the blank).
"""

from lipkeras.models.fast_lipreader import FastLipReader
from lipkeras.models.lipnet import LipNet
from lipkeras.models.presets import PRESETS, build_model

__all__ = ["LipNet", "FastLipReader", "PRESETS", "build_model"]
