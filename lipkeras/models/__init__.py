"""Lip-reading models.

CTC lip readers (``--stage lipnet``): ``LipNet`` (the design's baseline, two presets) and
``FastLipReader``; each takes ``{"frames": [B, T, H, W, C] in [0, 1], "frame_lengths": [B]}`` and
returns per-frame CTC logits ``[B, T, vocab]`` (blank = 0; padded frames forced to the blank).

The cross-modal reader of the design, built piece-wise: ``CharLanguageModel`` (``--stage
decoder``), ``VisualCTCReader`` = ``MultiMotionEncoder`` + GRU + the decoder's frozen output
layer (``--stage visual``), and ``CrossModalReader`` joining them by cross-attention
(``--stage integrate``); sizes in ``CROSSMODAL_PRESETS``.

Emotion: ``EmotionCNN``, the design's mean-face CNN (faces → label probabilities);
``SpeechEmotionCRNN`` (raw 16 kHz waveform + lengths → label probabilities; ``embedding_model()``);
``PooledFeatureCNN``, a 1D CNN on pooled clip features, beside the scikit-learn baselines of
``lipkeras.models.classical``.
``AVEmotionModel`` (speech + face streams, BEL or MoBEL fusion) with ``FaceClip3DCNN``.
"""

from lipkeras.models.av_emotion import AVEmotionModel, FaceClip3DCNN, build_av_emotion
from lipkeras.models.char_language_model import CharLanguageModel
from lipkeras.models.crossmodal_presets import (CROSSMODAL_PRESETS, build_crossmodal, build_language_model,
                                                build_visual_reader)
from lipkeras.models.crossmodal_reader import CrossModalReader
from lipkeras.models.emotion_cnn import EmotionCNN
from lipkeras.models.fast_lipreader import FastLipReader
from lipkeras.models.lipnet import LipNet
from lipkeras.models.multi_motion_encoder import MultiMotionEncoder
from lipkeras.models.pooled_cnn import PooledFeatureCNN
from lipkeras.models.presets import PRESETS, build_model
from lipkeras.models.speech_emotion import SpeechEmotionCRNN
from lipkeras.models.visual_ctc_reader import VisualCTCReader

__all__ = [
    "LipNet", "FastLipReader", "PRESETS", "build_model", "CharLanguageModel", "MultiMotionEncoder",
    "VisualCTCReader", "CrossModalReader", "CROSSMODAL_PRESETS", "build_language_model", "build_visual_reader",
    "build_crossmodal", "EmotionCNN", "SpeechEmotionCRNN", "PooledFeatureCNN", "AVEmotionModel", "FaceClip3DCNN",
    "build_av_emotion",
]
