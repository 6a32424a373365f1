"""Keras 3 layers (``keras.ops`` only inside; each has ``get_config`` and an explicit ``build``)."""

from lipkeras.layers.ctc_head import CTCHead
from lipkeras.layers.mouth_preprocessing import MouthPreprocessing
from lipkeras.layers.sequence_mask import SequenceMask
from lipkeras.layers.time_distributed_2d import FrameFold, FrameUnfold

__all__ = ["CTCHead", "MouthPreprocessing", "SequenceMask", "FrameFold", "FrameUnfold"]
