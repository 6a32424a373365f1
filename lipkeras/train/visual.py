"""``--stage visual``: piece-wise pre-training of the visual module against the frozen decoder output."""

from __future__ import annotations

from lipkeras.train.config import VisualConfig
from lipkeras.train.runner import in_precision


def load_keras(path: str):
    """A model from a ``.keras`` file or a run/model folder (``best.keras`` / ``model.keras``)."""
    import keras

    import lipkeras.layers  # noqa: F401  (registers the classes)
    import lipkeras.models  # noqa: F401
    from lipkeras.lipreader import resolve

    return keras.saving.load_model(resolve(path), compile=False)


@in_precision
def train(cfg: VisualConfig) -> dict:
    from lipkeras.models import build_visual_reader
    from lipkeras.models.losses import CTCLoss
    from lipkeras.records.vocab import DEFAULT
    from lipkeras.train.callbacks import DecodeMetrics
    from lipkeras.train.lipreading import as_xy, init_weights, load_datasets
    from lipkeras.train.runner import fit, optimizer, start_run
    from lipkeras.train.strategy import model_scope, same_as_one_device

    start_run(cfg)
    lm = load_keras(cfg.decoder)
    train_ds, val_ds, n_train, steps = load_datasets(cfg)
    with model_scope(cfg.strategy, cfg.batch_size) as strategy:
        model = build_visual_reader(cfg.preset, DEFAULT.size)
        output = model.get_layer("decoder_output")
        lm_output = lm.get_layer("decoder").output_layer
        if tuple(output.kernel.shape) != tuple(lm_output.kernel.shape):
            raise ValueError(f"{cfg.decoder}: its decoder (output {tuple(lm_output.kernel.shape)}) does not match "
                             f"preset {cfg.preset!r} (output {tuple(output.kernel.shape)}); use the same preset")
        output.set_weights(lm_output.get_weights())
        output.trainable = False  # the visual module learns to speak the decoder's language
        model.compile(optimizer=optimizer(cfg, steps), loss=CTCLoss())
        same_as_one_device(model, strategy)
    print(f"visual module {cfg.preset}: {model.count_params():,} parameters "
          f"({sum(int(w.numpy().size) for w in output.weights):,} frozen from {cfg.decoder})", flush=True)
    init_weights(model, cfg)
    return fit(cfg, model, train_ds.map(as_xy).repeat(), steps, DecodeMetrics(val_ds, cfg.examples, cfg.beam_width),
               monitor="val_wer", extra={"train_clips": n_train, "decoder": cfg.decoder}, train_examples=n_train)
