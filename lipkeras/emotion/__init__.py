"""Emotion: the one home of using emotion models, by modality.

* ``lipkeras.emotion.face``: a face model (``EmotionCNN``, e.g. ``fer_emotion``) on face crops,
  images and videos (``EmotionReader``), framing, test-time views, precision, calibration.
* ``lipkeras.emotion.av``: the audio-visual model (``av_emotion``) on a video's face key frames and
  voice (``AVEmotionReader``): per-stream and fused probabilities.
* ``lipkeras.emotion.tflite_runtime``: the same face models run from a TFLite flatbuffer.
* ``lipkeras.emotion.audio``: a speech model (``SpeechEmotionCRNN``, e.g. ``speech_emotion``) on
  audio files and the audio tracks of videos (``SpeechEmotionReader``).
* ``lipkeras.emotion.features``: pooled clip features (MFCC statistics of the audio; landmark and
  blendshape statistics of the face) for the classical baselines of ``lipkeras.models.classical``
  (imported on its own, not here).

What the models are lives in ``lipkeras.models`` and ``lipkeras.layers`` (the audio front end in
``lipkeras.layers.audio_features``); training in ``lipkeras.train``; scores in
``lipkeras.evaluate_emotion``; exports in ``lipkeras.export``, which imports this package and
never the other way round.
"""

from lipkeras.emotion.face import (  # noqa: F401
    DEFAULT_EMOTION_MODEL,
    FER_FACE_CENTER_Y,
    FER_FACE_SIDE,
    MIN_FACE_CROP,
    PRECISIONS,
    EmotionReader,
    _rebuilt,
    calibration_of,
    for_inference,
    label_confidence,
    sample_faces,
    sample_indices,
    ship,
    tflite_file,
    with_precision,
)
from lipkeras.emotion.audio import DEFAULT_SPEECH_EMOTION_MODEL, SpeechEmotionReader  # noqa: F401,E402


def __getattr__(name):  # the TFLite runtime imports TensorFlow: only when asked for
    if name in ("AVEmotionReader", "DEFAULT_AV_MODEL", "has_audio"):
        import lipkeras.emotion.av as av

        return getattr(av, name)
    if name == "TFLiteFaceClassifier":
        from lipkeras.emotion.tflite_runtime import TFLiteFaceClassifier

        return TFLiteFaceClassifier
    raise AttributeError(f"module 'lipkeras.emotion' has no attribute {name!r}")
