"""Keras 3 layers (``keras.ops`` only inside; each has ``get_config`` and an explicit ``build``).

Lip readers: ``SequenceMask``, ``MouthPreprocessing``, ``FrameFold``/``FrameUnfold``, ``CTCHead``,
``PadToBlank``. The cross-modal reader: ``Conv3DStem`` → ``ResNetTrunk`` (of ``ResidualBlock``)
→ ``LocalPoolAttention`` per scale → ``WeightedDynamicAggregation`` → ``PositionwiseFeedForward``
(post-FFN) = multi-motion context; ``TransformerDecoder`` (of ``TransformerDecoderLayer``, with
``SinusoidalPositionEncoding``) as the character language model and attention decoder.
Emotion: ``MeanFaceSubtraction``; ``FaceViews`` → ``ViewAverage`` (test-time augmentation).
Audio front end (raw 16 kHz waveform in): ``LogMelSpectrogram`` → ``MFCC`` (+ deltas) →
``UtteranceNormalization`` → ``SpecAugment`` (training only).
Audio-visual emotion fusion: ``LabelAlignment``, ``BELDecisionFusion`` (decision level),
``MoBELFusion`` (feature level).
"""

from lipkeras.layers.audio_features import MFCC, LogMelSpectrogram, SpecAugment, UtteranceNormalization
from lipkeras.layers.conv3d_stem import Conv3DStem
from lipkeras.layers.ctc_head import CTCHead
from lipkeras.layers.emotion_fusion import BELDecisionFusion, LabelAlignment, MoBELFusion
from lipkeras.layers.face_views import FaceViews, ViewAverage
from lipkeras.layers.local_pool_attention import LocalPoolAttention
from lipkeras.layers.mean_face_subtraction import MeanFaceSubtraction
from lipkeras.layers.mouth_preprocessing import MouthPreprocessing
from lipkeras.layers.pad_to_blank import PadToBlank
from lipkeras.layers.position_encoding import SinusoidalPositionEncoding
from lipkeras.layers.position_wise_feed_forward import PositionwiseFeedForward
from lipkeras.layers.residual_block import ResidualBlock
from lipkeras.layers.resnet_trunk import ResNetTrunk
from lipkeras.layers.sequence_mask import SequenceMask
from lipkeras.layers.time_distributed_2d import FrameFold, FrameUnfold
from lipkeras.layers.transformer_decoder import TransformerDecoder
from lipkeras.layers.transformer_decoder_layer import TransformerDecoderLayer
from lipkeras.layers.weighted_dynamic_aggregation import WeightedDynamicAggregation

__all__ = [
    "MFCC", "BELDecisionFusion", "CTCHead", "Conv3DStem", "FaceViews", "FrameFold", "FrameUnfold", "LabelAlignment", "LocalPoolAttention", "LogMelSpectrogram",
    "MeanFaceSubtraction", "MoBELFusion", "MouthPreprocessing", "PadToBlank", "PositionwiseFeedForward", "ResNetTrunk", "ResidualBlock",
    "SequenceMask", "SinusoidalPositionEncoding", "SpecAugment", "TransformerDecoder", "TransformerDecoderLayer",
    "UtteranceNormalization", "ViewAverage", "WeightedDynamicAggregation",
]
