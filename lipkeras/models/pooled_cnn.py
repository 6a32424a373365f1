"""``PooledFeatureCNN``: a small 1D CNN on a pooled clip-feature vector (``lipkeras.emotion.features``).

The vector's ``num_stats`` blocks (mean, std, range over the clip's frames) become channels over the
per-frame features, so the convolutions run along the feature axis (MFCC order; or landmarks then
blendshapes); the pooled maps are flattened, not averaged, so a pattern's position (which coefficient,
which landmark) still counts. Standardisation is the first layer, with the training features' ``mean``/``std`` in the
config, so a saved model takes raw pooled features. The classical baselines' Keras counterpart
(``lipkeras.models.classical``).
"""

from __future__ import annotations

import keras
import numpy as np

from lipkeras.models.base import ConfigModel


@keras.saving.register_keras_serializable(package="lipkeras")
class PooledFeatureCNN(ConfigModel):
    """``features [B, num_features]`` → probabilities ``[B, len(labels)]``."""

    def __init__(self, labels, num_features, num_stats=3, filters=(32, 64), kernel_size=5, dense_units=64,
                 dropout=0.3, mean=None, std=None, **kwargs):
        if num_features % num_stats:
            raise ValueError(f"PooledFeatureCNN: {num_features} features are not {num_stats} equal blocks")
        per_stat = num_features // num_stats
        mean = np.zeros(num_features, np.float32) if mean is None else np.asarray(mean, np.float32)
        std = np.ones(num_features, np.float32) if std is None else np.asarray(std, np.float32)
        if mean.shape != (num_features,) or std.shape != (num_features,):
            raise ValueError(f"PooledFeatureCNN: mean and std must be [{num_features}]")
        inputs = keras.Input((num_features,), name="features")
        x = keras.layers.Normalization(mean=mean, variance=np.square(np.maximum(std, 1e-6)), name="standardise")(
            inputs)
        x = keras.layers.Reshape((num_stats, per_stat), name="stat_blocks")(x)
        x = keras.layers.Permute((2, 1), name="stats_as_channels")(x)  # [B, per-frame features, stats]
        for i, f in enumerate(filters):
            x = keras.layers.Conv1D(f, kernel_size, padding="same", activation="relu", name=f"conv{i + 1}")(x)
            x = keras.layers.MaxPooling1D(2, padding="same", name=f"pool{i + 1}")(x)
        x = keras.layers.Flatten(name="flatten")(x)  # keeps which features the patterns sit on
        x = keras.layers.Dropout(dropout, name="dropout")(x)
        x = keras.layers.Dense(dense_units, activation="relu", name="dense")(x)
        probs = keras.layers.Dense(len(labels), activation="softmax", name="probabilities", dtype="float32")(x)
        super().__init__(inputs=inputs, outputs=probs, **kwargs)
        self.config = dict(labels=tuple(labels), num_features=int(num_features), num_stats=int(num_stats),
                           filters=tuple(int(f) for f in filters), kernel_size=int(kernel_size),
                           dense_units=int(dense_units), dropout=float(dropout),
                           mean=[float(v) for v in mean], std=[float(v) for v in std])

    @property
    def labels(self) -> tuple:
        return tuple(self.config["labels"])
