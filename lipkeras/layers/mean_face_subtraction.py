import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="lipkeras")
class MeanFaceSubtraction(keras.layers.Layer):
    """``faces [B, H, W, C]`` → ``faces − mean_face``; the mean face is a saved, non-trainable weight.

    Set it from training faces with :meth:`adapt` (or :meth:`set_mean`); it travels inside the
    model (``.keras`` and exports), so serving needs no outside preprocessing.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def build(self, input_shape):
        if None in tuple(input_shape[1:]):
            raise ValueError(f"MeanFaceSubtraction needs a static image shape, got {input_shape}")
        self.mean_face = self.add_weight(shape=tuple(input_shape[1:]), initializer="zeros", trainable=False,
                                         name="mean_face")
        self.built = True

    def call(self, faces):
        return ops.cast(faces, self.compute_dtype) - ops.cast(self.mean_face, self.compute_dtype)[None]

    def set_mean(self, mean_face) -> None:
        mean_face = np.asarray(mean_face, np.float32)
        if not self.built:
            self.build((None,) + mean_face.shape)
        self.mean_face.assign(mean_face.reshape(tuple(self.mean_face.shape)))

    def adapt(self, faces) -> np.ndarray:
        """The pixel-wise mean of ``faces`` (an array ``[N, H, W, C]`` or an iterable of batches)."""
        total, count = None, 0
        batches = [faces] if isinstance(faces, np.ndarray) else faces
        for batch in batches:
            batch = np.asarray(batch, np.float64)
            total = batch.sum(0) if total is None else total + batch.sum(0)
            count += batch.shape[0]
        if not count:
            raise ValueError("MeanFaceSubtraction.adapt: no faces")
        mean = (total / count).astype(np.float32)
        self.set_mean(mean)
        return mean

    def compute_output_shape(self, input_shape):
        return input_shape
