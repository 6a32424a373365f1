"""The design's facial-emotion CNN (its section V).

Conv2D blocks 32 5×5 → 64 5×5 → 128 3×3 → 256 3×3, each conv with BatchNorm and ELU, each block
ending in max-pool and dropout; then dense 128 + BN + ELU + dropout and a softmax over the
labels. Mean-face subtraction is the first layer, so a saved or exported model takes plain
faces in [0, 1]; the labels it was trained on are part of its config. ``batch_norm=False`` is
the inference form that ``EmotionCNN.folded()`` produces: each BatchNorm folded into the conv or
dense layer before it (a bias instead of four vectors and a normalisation per activation).
``test_time_views`` > 1 averages the probabilities over shifted and mirrored views of each face
(``FaceViews`` → ``ViewAverage``, test-time augmentation): an inference form with the same
weights, as ``EmotionReader(views=...)`` and ``lipkeras export --views`` build it.
"""

from __future__ import annotations

import keras

from lipkeras.layers.face_views import FaceViews, ViewAverage
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
        test_time_views=1,
        view_shift=2,
        **kwargs,
    ):
        if len(filters) != len(kernel_sizes):
            raise ValueError("EmotionCNN: one kernel size per block of filters")
        faces = keras.Input((input_size, input_size, channels), name="faces")
        x = FaceViews(test_time_views, view_shift, name="face_views")(faces) if test_time_views > 1 else faces
        x = MeanFaceSubtraction(name="mean_face")(x) if mean_face else x
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
        if test_time_views > 1:
            probs = ViewAverage(test_time_views, name="view_average", dtype="float32")(probs)
        super().__init__(inputs=faces, outputs=probs, **kwargs)
        self.config = dict(labels=tuple(labels), input_size=input_size, channels=channels, filters=tuple(filters),
                           kernel_sizes=tuple(kernel_sizes), convs_per_block=convs_per_block,
                           dense_units=dense_units, dropout=dropout, dense_dropout=dense_dropout, mean_face=mean_face,
                           batch_norm=batch_norm, test_time_views=test_time_views, view_shift=view_shift)

    @property
    def labels(self) -> tuple:
        return self.config["labels"]

    def grow_from(self, source: "EmotionCNN") -> None:
        """Start from a narrower trained ``source`` of the same design (Net2Net-style widening):
        its weights fill the first channels/units of every layer, the weights from the new
        channels into the old ones are zero and the new channels keep their fresh initialisation,
        so this model computes exactly what ``source`` does until training uses the new width."""
        import numpy as np

        mine, theirs = self._transfer_check(source)
        if any(a < b for a, b in zip(mine["filters"] + (mine["dense_units"],),
                                     theirs["filters"] + (theirs["dense_units"],))):
            raise ValueError(f"cannot grow from {source.name}: it is wider than this model somewhere")
        for layer in self.layers:
            if not layer.weights:
                continue
            old = [np.asarray(w) for w in source.get_layer(layer.name).get_weights()]
            new = [np.asarray(w).copy() for w in layer.get_weights()]
            if layer.name == "mean_face":
                new = old
            elif isinstance(layer, keras.layers.Conv2D):
                k = new[0]
                k[:, :, old[0].shape[2]:, :old[0].shape[3]] = 0.0  # new inputs do not reach the old filters
                k[:, :, :old[0].shape[2], :old[0].shape[3]] = old[0]
                new[0] = k
                if len(new) > 1:
                    new[1][:old[1].shape[0]] = old[1]
            elif isinstance(layer, keras.layers.BatchNormalization):
                for n, o in zip(new, old):
                    n[:o.shape[0]] = o
            elif isinstance(layer, keras.layers.Dense):
                k = new[0]
                k[:, :old[0].shape[1]] = 0.0
                if layer.name == "dense":  # rows are flattened (h, w, c): map the old channels
                    c_new, c_old = mine["filters"][-1], theirs["filters"][-1]
                    hw = k.shape[0] // c_new
                    k.reshape(hw, c_new, -1)[:, :c_old, :old[0].shape[1]] = old[0].reshape(hw, c_old, -1)
                else:
                    k[:old[0].shape[0], :old[0].shape[1]] = old[0]
                    k[old[0].shape[0]:, :] = 0.0
                new[0] = k
                if len(new) > 1:
                    new[1][:old[1].shape[0]] = old[1]
            layer.set_weights(new)

    def shrink_from(self, source: "EmotionCNN") -> None:
        """Start from a wider trained ``source`` of the same design (structured pruning): each
        layer keeps the ``source`` channels/units whose BatchNorm scale ``|γ|`` is largest (the
        kernel's L1 norm without BatchNorm), in their order, and the layer after it keeps the
        matching inputs. A channel left out is one the student must do without, so fine-tune
        (e.g. with ``--distill-from`` the source) after it."""
        import numpy as np

        mine, theirs = self._transfer_check(source)
        if any(a > b for a, b in zip(mine["filters"] + (mine["dense_units"],),
                                     theirs["filters"] + (theirs["dense_units"],))):
            raise ValueError(f"cannot shrink from {source.name}: it is narrower than this model somewhere")

        def strongest(layer, bn, count):
            if bn is not None:
                score = np.abs(np.asarray(bn.gamma))
            else:
                k = np.asarray(layer.kernel)
                score = np.abs(k).reshape(-1, k.shape[-1]).sum(0)
            return np.sort(np.argsort(-score, kind="stable")[:count])

        def prune(name, bn_name, keep_in, count, rows=None):  # → the source channels kept
            src, dst = source.get_layer(name), self.get_layer(name)
            bn = source.get_layer(bn_name) if mine["batch_norm"] else None
            keep = strongest(src, bn, count)
            w = [np.asarray(v) for v in src.get_weights()]
            k = w[0] if keep_in is None else (rows(w[0], keep_in) if rows else w[0][..., keep_in, :])
            dst.set_weights([k[..., keep]] + [b[keep] for b in w[1:]])
            if bn is not None:
                self.get_layer(bn_name).set_weights([np.asarray(v)[keep] for v in bn.get_weights()])
            return keep

        if mine["mean_face"]:
            self.get_layer("mean_face").set_weights(source.get_layer("mean_face").get_weights())
        keep = None
        for b, f in enumerate(mine["filters"]):
            for c in range(mine["convs_per_block"]):
                keep = prune(f"block{b + 1}_conv{c + 1}", f"block{b + 1}_bn{c + 1}", keep, f)
        c_old = theirs["filters"][-1]

        def flattened(k, channels):  # rows are flattened (h, w, c): keep the same channels at every position
            hw = k.shape[0] // c_old
            return k.reshape(hw, c_old, -1)[:, channels, :].reshape(hw * len(channels), -1)
        keep = prune("dense", "dense_bn", keep, mine["dense_units"], rows=flattened)
        out = source.get_layer("probabilities").get_weights()
        self.get_layer("probabilities").set_weights([np.asarray(out[0])[keep], np.asarray(out[1])])

    def resize_from(self, source: "EmotionCNN") -> str:
        """``grow_from`` a narrower or ``shrink_from`` a wider ``source``; returns which it did."""
        mine, theirs = self._transfer_check(source)
        widths = list(zip(mine["filters"] + (mine["dense_units"],), theirs["filters"] + (theirs["dense_units"],)))
        if all(a <= b for a, b in widths):
            self.shrink_from(source)
            return "shrunk"
        self.grow_from(source)
        return "grown"

    def _transfer_check(self, source: "EmotionCNN") -> tuple[dict, dict]:
        import numpy as np

        mine, theirs = self.get_config(), source.get_config()
        same = ("labels", "input_size", "channels", "kernel_sizes", "convs_per_block", "mean_face", "batch_norm")
        differ = [k for k in same if tuple(np.atleast_1d(mine[k])) != tuple(np.atleast_1d(theirs[k]))]
        if differ or len(mine["filters"]) != len(theirs["filters"]):
            raise ValueError(f"cannot resize from {source.name}: {', '.join(differ) or 'number of blocks'} differ")
        return mine, theirs

    def with_views(self, views: int, shift: int | None = None) -> "EmotionCNN":
        """The same weights averaging over ``views`` test-time views of each face (1: none)."""
        config = {**self.get_config(), "test_time_views": int(views)}
        if shift is not None:
            config["view_shift"] = int(shift)
        if config == self.get_config():
            return self
        out = type(self).from_config(config)
        out.set_weights(self.get_weights())
        return out

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
