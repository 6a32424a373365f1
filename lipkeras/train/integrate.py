"""``--stage integrate``: cross-attention from the pre-trained decoder to the pre-trained visual
module's context, fine-tuned with ``ctc_weight · CTC + (1 − ctc_weight) · CE``."""

from __future__ import annotations


from lipkeras.train.config import IntegrateConfig
from lipkeras.train.runner import in_precision


def with_tokens(batch, sos: int, eos: int):
    """Mouth batch → ``({frames, frame_lengths, tokens}, {ctc: labels, attention: targets})``."""
    import tensorflow as tf

    labels = tf.cast(batch["labels"], tf.int32)
    n = tf.cast(batch["label_lengths"], tf.int32)
    b = tf.shape(labels)[0]
    tokens = tf.concat([tf.fill([b, 1], sos), labels], axis=1)
    targets = tf.concat([labels, tf.zeros([b, 1], tf.int32)], axis=1)
    targets = tf.where(tf.range(tf.shape(targets)[1])[None, :] == n[:, None], eos, targets)
    x = {"frames": batch["frames"], "frame_lengths": batch["frame_lengths"], "tokens": tokens}
    return x, {"ctc": labels, "attention": targets}


class _GreedyAttention:
    """Validation decoding for DecodeMetrics: batched greedy attention (built once per model)."""

    def __init__(self):
        self.recognizer = None

    def __call__(self, model, frames, lengths):
        from lipkeras.decode.crossmodal import CrossModalRecognizer

        if self.recognizer is None or self.recognizer.model is not model:
            self.recognizer = CrossModalRecognizer(model)
        return self.recognizer.greedy(frames, lengths)


def build_integrated(visual, lm, vocab_size: int):
    """A CrossModalReader shaped like ``visual`` + ``lm``, with their weights (cross-attention new)."""
    from lipkeras.models import CrossModalReader
    from lipkeras.models.transfer import copy_matching_weights

    vcfg, lcfg = visual.get_config(), lm.get_config()
    decoder = {k: lcfg[k] for k in ("d_model", "num_layers", "num_heads", "ff_dim", "dropout")}
    model = CrossModalReader(vocab_size=vocab_size, encoder=vcfg["encoder"], decoder=decoder,
                             rnn_units=vcfg["rnn_units"], dropout=vcfg["dropout"], name="crossmodal")
    for name in ("encoder", "ctc_bigru", "to_decoder_space", "decoder_space_norm", "decoder_output"):
        model.get_layer(name).set_weights(visual.get_layer(name).get_weights())
    copied, fresh = copy_matching_weights(lm.get_layer("decoder"), model.get_layer("decoder"))
    print(f"integrated model: visual module from the visual stage, {copied} decoder weights from the LM, "
          f"{len(fresh)} new ({', '.join(sorted({p.split('/')[1] for p in fresh if '/' in p}))})", flush=True)
    return model


@in_precision
def train(cfg: IntegrateConfig) -> dict:
    from lipkeras.models.losses import CTCLoss, MaskedCrossEntropy
    from lipkeras.records.io import save_keras_atomic
    from lipkeras.records.vocab import DEFAULT
    from lipkeras.train.callbacks import DecodeMetrics
    from lipkeras.train.lipreading import init_weights, load_datasets
    from lipkeras.train.runner import fit, optimizer, start_run
    from lipkeras.train.strategy import model_scope, same_as_one_device
    from lipkeras.train.visual import load_keras

    out = start_run(cfg)
    visual, lm = load_keras(cfg.visual), load_keras(cfg.decoder)
    train_ds, val_ds, n_train, steps = load_datasets(cfg)
    with model_scope(cfg.strategy, cfg.batch_size) as strategy:
        model = build_integrated(visual, lm, DEFAULT.size)
        model.compile(optimizer=optimizer(cfg, steps),
                      loss={"ctc": CTCLoss(), "attention": MaskedCrossEntropy(cfg.label_smoothing, per_token=False)},
                      loss_weights={"ctc": cfg.ctc_weight, "attention": 1.0 - cfg.ctc_weight})
        same_as_one_device(model, strategy)
    print(f"cross-modal reader: {model.count_params():,} parameters, ctc_weight {cfg.ctc_weight}", flush=True)
    init_weights(model, cfg)
    # The LM used for shallow fusion travels with the run (the decoder itself is fine-tuned here).
    if not (out / "lm.keras").exists():
        save_keras_atomic(lm, out / "lm.keras")
    fit_ds = train_ds.map(lambda b: with_tokens(b, DEFAULT.sos, DEFAULT.eos)).repeat()
    return fit(cfg, model, fit_ds, steps, DecodeMetrics(val_ds, cfg.examples, recognize=_GreedyAttention()),
               monitor="val_wer", extra={"train_clips": n_train, "visual": cfg.visual, "decoder": cfg.decoder},
               train_examples=n_train)
