"""Running a trained ``CrossModalReader``: encode once, then decode by attention beam search.

``CrossModalRecognizer`` splits the integrated model into an encoder graph (frames → memory,
CTC logits) and a decoder-step graph (tokens, memory → next-character log-probs) that share its
layers, and optionally holds the pre-trained character LM for shallow fusion.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lipkeras.decode.attention_beam import BeamResult, attention_beam_search
from lipkeras.decode.char_lm import lm_step, padded_tokens
from lipkeras.decode.ctc_prefix import log_softmax
from lipkeras.records.vocab import DEFAULT, Vocabulary


@dataclasses.dataclass
class DecodingConfig:
    beam_width: int = 5
    lm_weight: float = 0.3
    ctc_weight: float = 0.3
    length_alpha: float = 1.0
    max_length: int = 200


class CrossModalRecognizer:
    def __init__(self, model, lm=None, vocab: Vocabulary = DEFAULT):
        import keras

        self.model, self.lm, self.vocab = model, lm, vocab
        frames = model.get_layer("frames").output
        lengths = model.get_layer("frame_lengths").output
        self.encode_model = keras.Model({"frames": frames, "frame_lengths": lengths},
                                        {"memory": model.get_layer("memory").output,
                                         "ctc": model.get_layer("ctc").output}, name="encode")
        decoder = model.get_layer("decoder")
        tokens = keras.Input((None,), dtype="int32", name="tokens")
        memory = keras.Input((None, decoder.d_model), name="memory")
        memory_mask = keras.Input((None,), dtype="bool", name="memory_mask")
        self.step_model = keras.Model([tokens, memory, memory_mask],
                                      decoder(tokens, memory=memory, memory_mask=memory_mask), name="decode_step")

    def encode(self, frames: np.ndarray, lengths: np.ndarray) -> dict:
        out = self.encode_model.predict_on_batch({"frames": frames, "frame_lengths": np.asarray(lengths, np.int32)})
        return {k: np.asarray(v) for k, v in out.items()}

    def _step(self, memory, mask, rows):
        memory, mask = np.repeat(memory, rows, axis=0), np.repeat(mask, rows, axis=0)

        def step(tokens):
            n, length = tokens.shape
            padded = padded_tokens(tokens, rows)
            logits = self.step_model.predict_on_batch([padded, memory[:len(padded)], mask[:len(padded)]])
            return log_softmax(np.asarray(logits)[:n, length - 1])
        return step

    def recognize(self, frames: np.ndarray, lengths: np.ndarray, config: DecodingConfig = DecodingConfig(),
                  encoded: dict | None = None, nbest: int = 1) -> list[dict]:
        """Beam-search every clip of a batch; one dict per clip (text, scores, per-character log-probs).
        ``encoded``: the batch's ``encode`` output when the caller has it already. ``nbest`` > 1:
        also ``nbest``, the search's best texts and their scores, best first (at most the beam width)."""
        enc = self.encode(frames, lengths) if encoded is None else encoded
        T = enc["memory"].shape[1]
        results = []
        for b, n in enumerate(np.asarray(lengths)):
            n = int(n)
            mask = (np.arange(T) < n)[None]
            ranked: list[BeamResult] = attention_beam_search(
                self._step(enc["memory"][b:b + 1], mask, config.beam_width), self.vocab.sos, self.vocab.eos, self.vocab.size,
                max_length=min(n, config.max_length), beam_width=config.beam_width,
                lm_step=lm_step(self.lm, config.beam_width) if self.lm is not None else None, lm_weight=config.lm_weight,
                ctc_logprobs=log_softmax(enc["ctc"][b, :n]), ctc_weight=config.ctc_weight,
                length_alpha=config.length_alpha, nbest=nbest)
            best = ranked[0]
            results.append({"text": " ".join(self.vocab.decode(best.tokens).split()),
                            "score": round(best.score, 4), "attention_score": round(best.attention_score, 4),
                            "ctc_score": round(best.ctc_score, 4), "lm_score": round(best.lm_score, 4),
                            "char_logprobs": [round(p, 4) for p in best.char_logprobs]})
            if nbest > 1:
                results[-1]["nbest"] = [{"text": " ".join(self.vocab.decode(h.tokens).split()),
                                         "score": round(h.score, 4)} for h in ranked]
        return results

    def greedy(self, frames: np.ndarray, lengths: np.ndarray, max_length: int = 200) -> list[str]:
        """Batched greedy attention decoding (no LM, no CTC): fast, for validation during training."""
        enc = self.encode(frames, lengths)
        B, T = enc["memory"].shape[:2]
        mask = np.arange(T)[None] < np.asarray(lengths)[:, None]
        tokens = np.full((B, 1), self.vocab.sos, np.int32)
        done = np.zeros(B, bool)
        for _ in range(min(T, max_length)):
            length = tokens.shape[1]
            nxt = np.asarray(self.step_model.predict_on_batch([padded_tokens(tokens, B), enc["memory"], mask]))
            nxt = nxt[:, length - 1]
            nxt[:, 0] = -np.inf  # never the pad/blank
            c = np.where(done, 0, nxt.argmax(-1)).astype(np.int32)
            done |= c == self.vocab.eos
            tokens = np.concatenate([tokens, c[:, None]], axis=1)
            if done.all():
                break
        return [" ".join(self.vocab.decode([t for t in row[1:] if t != self.vocab.eos]).split()) for row in tokens]
