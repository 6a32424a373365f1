"""Decoding: CTC (greedy, beam, beam with character-LM fusion) and attention beam search with LM fusion and CTC prefix scores."""

from lipkeras.decode.attention_beam import BeamResult, attention_beam_search
from lipkeras.decode.ctc import beam_ids, decode, greedy_ids
from lipkeras.decode.ctc_lm import CTCDecodingConfig, ctc_lm_beam_search
from lipkeras.decode.ctc_prefix import CTCPrefixScorer, log_softmax

__all__ = ["BeamResult", "CTCDecodingConfig", "CTCPrefixScorer", "attention_beam_search", "beam_ids",
           "ctc_lm_beam_search", "decode", "greedy_ids", "log_softmax"]
