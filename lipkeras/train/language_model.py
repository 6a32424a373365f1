"""``--stage decoder``: pre-train the character transformer decoder as a language model."""

from __future__ import annotations

import math

import keras
import numpy as np

from lipkeras.decode.ctc_prefix import log_softmax
from lipkeras.records.vocab import DEFAULT
from lipkeras.train.config import DecoderConfig
from lipkeras.train.runner import in_precision


def _logits(model, tokens) -> np.ndarray:
    # a call, not predict_on_batch: under MirroredStrategy that returned one replica's rows only
    return keras.ops.convert_to_numpy(model(tokens, training=False))


def heldout_bits_per_char(model, tokens: np.ndarray, targets: np.ndarray, batch_size: int = 64) -> dict:
    """Nats and bits per character (``<eos>`` counted as one) and perplexity on held-out text."""
    nll, count = 0.0, 0
    for i in range(0, len(tokens), batch_size):
        logp = log_softmax(_logits(model, tokens[i:i + batch_size]))
        t = targets[i:i + batch_size]
        picked = np.take_along_axis(logp, t[..., None], axis=-1)[..., 0]
        real = t != DEFAULT.PAD
        nll -= float(picked[real].sum())
        count += int(real.sum())
    nats = nll / max(1, count)
    return {"nats_per_char": nats, "bits_per_char": nats / math.log(2), "perplexity": math.exp(nats),
            "characters": count}


def greedy_sample(model, max_length: int = 60) -> str:
    tokens = [DEFAULT.sos]
    for _ in range(max_length):
        logits = _logits(model, np.array([tokens], np.int32))[0, -1]
        logits[DEFAULT.PAD] = -np.inf
        nxt = int(logits.argmax())
        if nxt == DEFAULT.eos:
            break
        tokens.append(nxt)
    return DEFAULT.decode(tokens)



def sample_sentence(model, temperature: float = 1.0, seed: int | None = None, max_length: int = 60) -> str:
    """A sentence drawn from the LM a character at a time, each from its next-character distribution
    sharpened (``temperature`` < 1) or flattened (> 1); ``temperature`` 0 is ``greedy_sample``."""
    if temperature <= 0:
        return greedy_sample(model, max_length)
    rng = np.random.default_rng(seed)
    tokens = [DEFAULT.sos]
    for _ in range(max_length):
        logits = _logits(model, np.array([tokens], np.int32))[0, -1].astype(np.float64)
        logits[DEFAULT.PAD] = -np.inf  # never a next character (<sos> is <eos> here: it ends the sentence)
        p = np.exp(log_softmax(logits / temperature))
        nxt = int(rng.choice(len(p), p=p / p.sum()))
        if nxt == DEFAULT.eos:
            break
        tokens.append(nxt)
    return DEFAULT.decode(tokens)

class HeldOutPerplexity(keras.callbacks.Callback):
    """Adds ``val_bpc`` and ``val_perplexity`` to the logs and prints the LM's greedy sentence."""

    def __init__(self, tokens, targets):
        super().__init__()
        self.tokens, self.targets = tokens, targets

    def on_epoch_end(self, epoch, logs=None):
        m = heldout_bits_per_char(self.model, self.tokens, self.targets)
        if logs is not None:
            logs["val_bpc"], logs["val_perplexity"] = m["bits_per_char"], m["perplexity"]
        print(f"\nepoch {epoch + 1}: held-out {m['bits_per_char']:.3f} bits/char, perplexity "
              f"{m['perplexity']:.3f}; greedy: {greedy_sample(self.model)!r}", flush=True)


@in_precision
def train(cfg: DecoderConfig) -> dict:
    import tensorflow as tf

    from lipkeras.models import build_language_model
    from lipkeras.models.losses import MaskedCrossEntropy
    from lipkeras.train.clip_splits import for_run, read_id_list
    from lipkeras.train.runner import data_seed, fit, optimizer, start_run, steps_for
    from lipkeras.train.strategy import model_scope, same_as_one_device
    from lipkeras.train.text_corpus import is_records, lm_arrays, load_sentences, split_heldout

    out = start_run(cfg)
    if is_records(cfg.text) and not cfg.val_text:  # the clip split decides (no test transcript in the LM)
        splits = for_run(cfg.text, cfg, out)
        train_text = load_sentences(cfg.text, splits.ids["train"])
        val_text = load_sentences(cfg.text, splits.ids["val"])
    elif cfg.val_text:
        train_text = load_sentences(cfg.text, read_id_list(cfg.train_ids, "--train-ids") if cfg.train_ids else None)
        val_text = load_sentences(cfg.val_text, read_id_list(cfg.val_ids, "--val-ids") if cfg.val_ids else None)
    else:  # plain text and no held-out text given: hold out 10 % of it
        train_text, val_text = split_heldout(load_sentences(cfg.text), 0.1, cfg.seed)
    if not train_text or not val_text:
        raise ValueError(f"{cfg.text}: no training or held-out sentences (check --text / --val-text / ids)")
    tokens, targets = lm_arrays(train_text, max_length=cfg.max_length)
    val_tokens, val_targets = lm_arrays(val_text, max_length=cfg.max_length)
    print(f"language model text: {len(train_text)} training sentences ({int((targets > 0).sum())} characters), "
          f"{len(val_text)} held out", flush=True)
    steps = steps_for(cfg, len(tokens))
    ds = (tf.data.Dataset.from_tensor_slices((tokens, targets)).shuffle(len(tokens), seed=data_seed(cfg))
          .repeat().batch(cfg.batch_size).prefetch(tf.data.AUTOTUNE))
    with model_scope(cfg.strategy, cfg.batch_size) as strategy:
        model = build_language_model(cfg.preset, DEFAULT.size)
        model.compile(optimizer=optimizer(cfg, steps), loss=MaskedCrossEntropy())
        same_as_one_device(model, strategy)
    print(f"language model {cfg.preset}: {model.count_params():,} parameters", flush=True)
    summary = fit(cfg, model, ds, steps, HeldOutPerplexity(val_tokens, val_targets), monitor="val_bpc",
                  samples_per_epoch=steps * cfg.batch_size,
                  extra={"train_sentences": len(train_text), "heldout_sentences": len(val_text)})
    return summary
