"""Audio-visual emotion (the design's deep path): a speech stream + a face stream, fused.

* Face stream: :class:`FaceClip3DCNN` (12 face key frames ``[B, 12, S, S, C]`` → 3D convolutions →
  FC 256 ``embedding`` → softmax), or a pretrained per-frame face model (an ``EmotionCNN`` such as
  ``fer_emotion``) whose frame probabilities are pooled (mean) over the key frames.
* Speech stream: any Keras model taking ``{"waveform": [B, N] float32, "lengths": [B] int32}`` to
  class probabilities, with a Dense layer named ``embedding`` (``SpeechEmotionCRNN``: log-mel → CNN
  + LSTM → FC 256), e.g. ``saved_models/speech_emotion``.
* :class:`AVEmotionModel`: both streams with ``fusion="bel"`` (decision level, ``BELDecisionFusion``
  in ``bel_mode`` learned / product / mean, on the fused labels) or ``fusion="mobel"`` (feature
  level, ``MoBELFusion`` over the concatenated embeddings). Inputs ``waveform``, ``lengths``,
  ``faces`` → fused probabilities over ``labels`` (default: every label of either stream, in
  ``lipkeras.preprocess.labels.EMOTIONS`` order).

:func:`key_frame_indices` / :func:`key_frames` pick the 12 evenly spaced faces of a clip, the same
way for training (``--stage av-emotion``) and for inference (``lipkeras.emotion.av``).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from lipkeras.layers.emotion_fusion import BELDecisionFusion, LabelAlignment, MoBELFusion
from lipkeras.layers.time_distributed_2d import FrameFold, FrameUnfold
from lipkeras.models.base import ConfigModel

KEY_FRAMES = 12
FUSIONS = ("bel", "mobel")
EMBEDDING_LAYERS = ("embedding", "dense_elu")  # speech CRNN / FaceClip3DCNN, EmotionCNN


def key_frame_indices(frames: int, count: int = KEY_FRAMES) -> np.ndarray:
    """``count`` evenly spaced frame indices of a clip of ``frames`` frames (repeats when it is shorter)."""
    if frames < 1:
        raise ValueError("a clip needs at least one face frame")
    return np.round(np.linspace(0, frames - 1, count)).astype(int)


def key_frames(faces: np.ndarray, count: int = KEY_FRAMES) -> np.ndarray:
    """The ``count`` key frames ``[count, H, W, C]`` of a clip's faces ``[T, H, W, C]``."""
    return np.asarray(faces)[key_frame_indices(len(faces), count)]


def model_labels(model, labels=None) -> tuple:
    """A stream's labels: given, else its ``labels`` attribute or config entry."""
    if labels:
        return tuple(labels)
    found = getattr(model, "labels", None) or model.get_config().get("labels")
    if not found:
        raise ValueError(f"{model.name}: give its labels (the model does not name them)")
    return tuple(found)


def fused_labels(*label_lists) -> tuple:
    """Every label of the streams, canonical ones in ``EMOTIONS`` order first, others after."""
    from lipkeras.preprocess.labels import EMOTIONS

    every = [lab for labels in label_lists for lab in labels]
    return tuple(e for e in EMOTIONS if e in every) + tuple(dict.fromkeys(e for e in every if e not in EMOTIONS))


def _embedding_output(model):
    for name in EMBEDDING_LAYERS:
        try:
            return model.get_layer(name).output
        except ValueError:
            continue
    raise ValueError(f"{model.name}: no embedding layer (one of {EMBEDDING_LAYERS}) for feature-level fusion")


@keras.saving.register_keras_serializable(package="lipkeras")
class FrameMean(keras.layers.Layer):
    """``[B, T, K]`` → ``[B, K]``: the mean over frames (video-level probabilities / embeddings)."""

    def build(self, input_shape):
        self.built = True

    def call(self, x):
        return ops.mean(x, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


@keras.saving.register_keras_serializable(package="lipkeras")
class FaceClip3DCNN(ConfigModel):
    """``faces [B, frames, S, S, C]`` float in [0, 1] → class probabilities; ``embedding`` (FC 256) inside."""

    def __init__(self, labels=("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"), frames=KEY_FRAMES,
                 input_size=48, channels=1, filters=(32, 64, 128), embedding_units=256, dropout=0.3, **kwargs):
        faces = keras.Input((frames, input_size, input_size, channels), name="faces")
        x = faces
        for b, f in enumerate(filters):
            x = keras.layers.Conv3D(f, 3, padding="same", use_bias=False, name=f"block{b + 1}_conv")(x)
            x = keras.layers.BatchNormalization(name=f"block{b + 1}_bn")(x)
            x = keras.layers.Activation("relu", name=f"block{b + 1}_relu")(x)
            pool_t = 2 if b > 0 else 1  # keep time resolution in the first block
            x = keras.layers.MaxPooling3D((pool_t, 2, 2), padding="same", name=f"block{b + 1}_pool")(x)
        x = keras.layers.GlobalAveragePooling3D(name="pool")(x)
        x = keras.layers.Dropout(dropout, name="pool_dropout")(x)
        x = keras.layers.Dense(embedding_units, activation="relu", name="embedding")(x)
        x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
        probs = keras.layers.Dense(len(labels), activation="softmax", name="probabilities", dtype="float32")(x)
        super().__init__(inputs=faces, outputs=probs, **kwargs)
        self.config = dict(labels=tuple(labels), frames=frames, input_size=input_size, channels=channels,
                           filters=tuple(filters), embedding_units=embedding_units, dropout=dropout)

    @property
    def labels(self) -> tuple:
        return self.config["labels"]


@keras.saving.register_keras_serializable(package="lipkeras")
class AVEmotionModel(ConfigModel):
    """``{"waveform": [B, N], "lengths": [B], "faces": [B, frames, S, S, C]}`` → fused probabilities ``[B, K]``.

    ``speech_model`` / ``face_model``: Keras models (or their serialized configs); ``speech_labels`` /
    ``face_labels`` name their outputs when the models do not. ``train_streams=False`` freezes both
    streams (only the fusion learns; the default for BEL, whose streams come pretrained).
    ``stream_weights``: BEL's per-stream weights (product/mean; the learned mode's start).
    """

    def __init__(self, speech_model, face_model, labels=None, fusion="bel", bel_mode="learned", speech_labels=None,
                 face_labels=None, frames=KEY_FRAMES, mobel_units=256, dropout=0.3, stream_weights=None,
                 train_streams=False, **kwargs):
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        if isinstance(speech_model, dict):
            speech_model = keras.saving.deserialize_keras_object(speech_model)
        if isinstance(face_model, dict):
            face_model = keras.saving.deserialize_keras_object(face_model)
        speech_labels, face_labels = model_labels(speech_model, speech_labels), model_labels(face_model, face_labels)
        labels = tuple(labels) if labels else fused_labels(speech_labels, face_labels)
        speech_model.trainable = face_model.trainable = bool(train_streams)
        per_frame = len(face_model.inputs[0].shape) == 4
        size, channels = int(face_model.inputs[0].shape[-2]), int(face_model.inputs[0].shape[-1])

        waveform = keras.Input((None,), name="waveform")
        lengths = keras.Input((), dtype="int32", name="lengths")
        faces = keras.Input((frames, size, size, channels), name="faces")
        speech_in = {"waveform": waveform, "lengths": lengths}
        speech_two = keras.Model(speech_model.input, [_embedding_output(speech_model), speech_model.outputs[0]],
                                 name="speech_stream")
        face_two = keras.Model(face_model.input, [_embedding_output(face_model), face_model.outputs[0]],
                               name="face_stream")
        speech_emb, speech_probs = speech_two(speech_in)
        if per_frame:  # a face model of single frames: its probabilities (and embeddings) pooled over the key frames
            emb, probs = face_two(FrameFold(name="fold_frames")(faces))
            face_emb = FrameMean(name="face_embedding_mean")(FrameUnfold(name="unfold_embedding")([emb, faces]))
            face_probs = FrameMean(name="face_probability_mean")(FrameUnfold(name="unfold_probs")([probs, faces]))
        else:
            face_emb, face_probs = face_two(faces)
        align_s = LabelAlignment(speech_labels, labels, name="speech_labels")
        align_f = LabelAlignment(face_labels, labels, name="face_labels")
        speech_aligned, face_aligned = align_s(speech_probs), align_f(face_probs)
        if fusion == "bel":
            self.fusion_layer = BELDecisionFusion(len(labels), 2, bel_mode, [align_s.coverage, align_f.coverage],
                                                  stream_weights, name="bel_fusion", dtype="float32")
            features = [speech_aligned, face_aligned]
        else:
            self.fusion_layer = MoBELFusion(len(labels), mobel_units, dropout, name="mobel_fusion", dtype="float32")
            features = [speech_emb, face_emb]
        fused = self.fusion_layer(features)
        super().__init__(inputs={"waveform": waveform, "lengths": lengths, "faces": faces}, outputs=fused, **kwargs)
        self._features, self._streams = features, {"speech": speech_aligned, "face": face_aligned}
        self._stream_models = (speech_model, face_model)
        self.config = dict(speech_model=keras.saving.serialize_keras_object(speech_model),
                           face_model=keras.saving.serialize_keras_object(face_model), labels=labels, fusion=fusion,
                           bel_mode=bel_mode, speech_labels=speech_labels, face_labels=face_labels, frames=frames,
                           mobel_units=mobel_units, dropout=dropout,
                           stream_weights=None if stream_weights is None else [float(w) for w in stream_weights],
                           train_streams=bool(train_streams))

    @property
    def labels(self) -> tuple:
        return tuple(self.config["labels"])

    @property
    def key_frame_count(self) -> int:
        return int(self.config["frames"])

    @property
    def face_input_size(self) -> tuple[int, int]:
        """``(S, C)`` of the faces input."""
        shape = self.input["faces"].shape if isinstance(self.input, dict) else self.inputs[2].shape
        return int(shape[-2]), int(shape[-1])

    def streams_model(self) -> keras.Model:
        """Same inputs → ``{"probabilities", "speech", "face"}``: fused and per-stream probabilities on ``labels``."""
        return keras.Model(self.input, {"probabilities": self.outputs[0], **self._streams}, name=f"{self.name}_streams")

    def features_model(self, frames: int | None = None) -> keras.Model:
        """Same inputs → what the fusion reads: ``[speech, face]`` aligned probabilities (BEL) or embeddings
        (MoBEL). ``frames``: the same streams (shared weights) on that many face frames instead, e.g. 1 for
        still faces, whose 12 key frames would be copies (a per-frame face stream pools them to the same)."""
        if frames and frames != self.key_frame_count:
            config = {k: v for k, v in self.config.items() if k not in ("speech_model", "face_model")}
            other = AVEmotionModel(*self._stream_models, **{**config, "frames": frames})
            return other.features_model()
        return keras.Model(self.input, list(self._features), name=f"{self.name}_features")

    def fusion_head(self) -> keras.Model:
        """The fusion alone, on ``features_model``'s outputs (shares this model's fusion weights)."""
        ins = [keras.Input(tuple(f.shape[1:]), name=n) for f, n in zip(self._features, ("speech", "face"))]
        return keras.Model(ins, self.fusion_layer(ins), name=f"{self.name}_fusion")


def build_av_emotion(speech_model, face_model, fusion: str = "bel", bel_mode: str = "learned", labels=None,
                     speech_labels=None, face_labels=None, **kwargs) -> AVEmotionModel:
    """The AV model of two trained streams (``.keras`` paths, names under ``saved_models/`` or models).

    A face ``EmotionCNN`` is used in its inference form (BatchNorm folded: the same outputs). Re-run
    after a new speech model ships: ``python -m lipkeras.train --stage av-emotion --speech-model ...``
    fits the fusion on label-matched pairs.
    """
    import json

    from lipkeras.lipreader import resolve

    def load(m, kind):
        if not isinstance(m, (str, bytes)) and hasattr(m, "inputs"):
            return m, None
        path = resolve(str(m))
        meta_file = path.parent / "lipkeras.json"
        meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
        return keras.saving.load_model(path, compile=False), meta.get("labels")

    import lipkeras.models  # noqa: F401  (registers the classes)

    speech, s_labels = load(speech_model, "speech")
    face, f_labels = load(face_model, "face")
    if hasattr(face, "folded") and not kwargs.get("train_streams"):
        face = face.folded()
    return AVEmotionModel(speech, face, labels=labels, fusion=fusion, bel_mode=bel_mode,
                          speech_labels=speech_labels or s_labels, face_labels=face_labels or f_labels, **kwargs)


def speech_stand_in(labels=("angry", "calm", "disgust", "fear", "happy", "neutral", "sad", "surprise"), n_mels=40,
                    units=64, lstm_units=64, embedding_units=256, dropout=0.3, name="speech_stand_in") -> keras.Model:
    """A small log-mel → (per-frame dense) → LSTM → FC ``embedding`` → softmax model with the speech
    stream's interface (``waveform`` + ``lengths``): a stand-in until ``SpeechEmotionCRNN`` ships.
    A plain functional model (its labels go in its ``lipkeras.json``)."""
    from lipkeras.layers.audio_features import LogMelSpectrogram, UtteranceNormalization

    waveform = keras.Input((None,), name="waveform")
    lengths = keras.Input((), dtype="int32", name="lengths")
    x = LogMelSpectrogram(n_mels=n_mels, name="log_mel")([waveform, lengths])
    x = UtteranceNormalization(name="normalization")(x)
    x = keras.layers.Dense(units, activation="relu", name="frame_dense")(x)
    x = keras.layers.LSTM(lstm_units, name="lstm")(x)
    x = keras.layers.Dropout(dropout, name="lstm_dropout")(x)
    x = keras.layers.Dense(embedding_units, activation="relu", name="embedding")(x)
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    probs = keras.layers.Dense(len(labels), activation="softmax", name="probabilities", dtype="float32")(x)
    return keras.Model({"waveform": waveform, "lengths": lengths}, probs, name=name)
