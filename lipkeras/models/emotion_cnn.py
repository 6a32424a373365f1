"""The design's facial-emotion CNN (its section V).

Conv2D blocks 32 5×5 → 64 5×5 → 128 3×3 → 256 3×3, each conv with BatchNorm and ELU, each block
ending in max-pool and dropout; then dense 128 + BN + ELU + dropout and a softmax over the
labels. Mean-face subtraction is the first layer, so a saved or exported model takes plain
faces in [0, 1]; the labels it was trained on are part of its config. ``batch_norm=False`` is
the inference form that ``EmotionCNN.folded()`` produces: each BatchNorm folded into the conv or
dense layer before it (a bias instead of four vectors and a normalisation per activation).
"""

from __future__ import annotations

import keras

from lipkeras.layers.mean_face_subtraction import MeanFaceSubtraction
from lipkeras.models.base import ConfigModel


@keras.saving.register_keras_serializable(package="lipkeras")
class EmotionCNN(ConfigModel):
    """``faces [B, S, S, C]`` float in [0, 1] → class probabilities ``[B, len(labels)]``."""

    def __init__(
        self,
        labels=("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"),
        input_size=48,
        channels=1,
        filters=(32, 64, 128, 256),
        kernel_sizes=(5, 5, 3, 3),
        convs_per_block=2,
        dense_units=128,
        dropout=0.4,
        dense_dropout=0.5,
        mean_face=True,
        batch_norm=True,
        **kwargs,
    ):
        if len(filters) != len(kernel_sizes):
            raise ValueError("EmotionCNN: one kernel size per block of filters")
        faces = keras.Input((input_size, input_size, channels), name="faces")
        x = MeanFaceSubtraction(name="mean_face")(faces) if mean_face else faces
        for b, (f, k) in enumerate(zip(filters, kernel_sizes)):
            for c in range(convs_per_block):
                x = keras.layers.Conv2D(f, k, padding="same", use_bias=not batch_norm, name=f"block{b + 1}_conv{c + 1}")(x)
                if batch_norm:
                    x = keras.layers.BatchNormalization(name=f"block{b + 1}_bn{c + 1}")(x)
                x = keras.layers.Activation("elu", name=f"block{b + 1}_elu{c + 1}")(x)
            x = keras.layers.MaxPooling2D(2, name=f"block{b + 1}_pool")(x)
            x = keras.layers.Dropout(dropout, name=f"block{b + 1}_dropout")(x)
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dense(dense_units, use_bias=not batch_norm, name="dense")(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name="dense_bn")(x)
        x = keras.layers.Activation("elu", name="dense_elu")(x)
        x = keras.layers.Dropout(dense_dropout, name="dense_dropout")(x)
        probs = keras.layers.Dense(len(labels), activation="softmax", name="probabilities", dtype="float32")(x)
        super().__init__(inputs=faces, outputs=probs, **kwargs)
        self.config = dict(labels=tuple(labels), input_size=input_size, channels=channels, filters=tuple(filters),
                           kernel_sizes=tuple(kernel_sizes), convs_per_block=convs_per_block,
                           dense_units=dense_units, dropout=dropout, dense_dropout=dense_dropout, mean_face=mean_face,
                           batch_norm=batch_norm)

    @property
    def labels(self) -> tuple:
        return self.config["labels"]

    def folded(self) -> "EmotionCNN":
        """The same function with every BatchNorm folded into the layer before it (inference only:
        the copy has no batch statistics to train). ``scale = γ / √(σ² + ε)``: kernel · scale,
        bias = β − μ · scale."""
        import numpy as np

        if not self.config.get("batch_norm", True):
            return self
        out = type(self).from_config({**self.get_config(), "batch_norm": False})
        for layer in out.layers:
            if not layer.weights:
                continue
            source = self.get_layer(layer.name)
            if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)) and layer.name != "probabilities":
                bn = self.get_layer(layer.name.replace("_conv", "_bn") if "_conv" in layer.name else "dense_bn")
                gamma, beta, mean, var = (np.asarray(w) for w in (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance))
                scale = gamma / np.sqrt(var + bn.epsilon)
                layer.set_weights([np.asarray(source.kernel) * scale, beta - mean * scale])
            else:
                layer.set_weights(source.get_weights())
        return out
