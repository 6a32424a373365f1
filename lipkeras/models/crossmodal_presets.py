"""Sizes of the cross-modal reader: ``tiny`` (tests), ``cpu`` (trains on GRID on a 2-core CPU) and
``resnet50`` (the design's sizes, meant for a GPU).

A preset names an encoder (MultiMotionEncoder), a decoder (CharLanguageModel / the attention
decoder) and the CTC branch's GRU width; the three stages build their models from the same preset.
"""

from __future__ import annotations

from lipkeras.models.char_language_model import CharLanguageModel
from lipkeras.models.crossmodal_reader import CrossModalReader
from lipkeras.models.visual_ctc_reader import VisualCTCReader

CROSSMODAL_PRESETS = {
    "tiny": dict(
        encoder=dict(input_size=(16, 16), stem_filters=4, stem_kernel=(3, 3, 3), block="basic", stage_blocks=(1, 1),
                     stage_filters=(4, 8), lpa_grid=2, d_model=16, num_heads=2, ffn_dim=32, dropout=0.0),
        decoder=dict(d_model=16, num_layers=1, num_heads=2, ff_dim=32, dropout=0.0),
        rnn_units=8,
    ),
    # 44×44 mouths, a 5×7×7 stem, a 3-stage basic ResNet (one block each): 4 scales of 11², 11², 6², 3².
    "cpu": dict(
        encoder=dict(input_size=(44, 44), stem_filters=24, stem_kernel=(5, 7, 7), block="basic",
                     stage_blocks=(1, 1, 1), stage_filters=(32, 64, 128), lpa_grid=3, d_model=128, num_heads=4,
                     ffn_dim=256, dropout=0.1),
        decoder=dict(d_model=128, num_layers=2, num_heads=4, ff_dim=512, dropout=0.1),
        rnn_units=128,
    ),
    # The design: ResNet-50 scales 64/256/512/1024/2048 on 88×88 mouths, d_model 1024, 6 layers, 16 heads.
    "resnet50": dict(
        encoder=dict(input_size=(88, 88), stem_filters=64, stem_kernel=(5, 7, 7), resnet_layout="resnet50",
                     lpa_grid=2, d_model=1024, num_heads=16, ffn_dim=4096, dropout=0.1),
        decoder=dict(d_model=1024, num_layers=6, num_heads=16, ff_dim=4096, dropout=0.1),
        rnn_units=512,
    ),
}


def preset(name: str) -> dict:
    if name not in CROSSMODAL_PRESETS:
        raise ValueError(f"unknown cross-modal preset {name!r}; choose from {', '.join(CROSSMODAL_PRESETS)}")
    return CROSSMODAL_PRESETS[name]


def build_language_model(name: str, vocab_size: int) -> CharLanguageModel:
    return CharLanguageModel(vocab_size=vocab_size, **preset(name)["decoder"], name=f"lm_{name}")


def build_visual_reader(name: str, vocab_size: int) -> VisualCTCReader:
    p = preset(name)
    return VisualCTCReader(vocab_size=vocab_size, encoder=p["encoder"], rnn_units=p["rnn_units"],
                           decoder_dim=p["decoder"]["d_model"], dropout=p["encoder"].get("dropout", 0.1),
                           name=f"visual_{name}")


def build_crossmodal(name: str, vocab_size: int) -> CrossModalReader:
    p = preset(name)
    return CrossModalReader(vocab_size=vocab_size, encoder=p["encoder"], decoder=p["decoder"],
                            rnn_units=p["rnn_units"], dropout=p["encoder"].get("dropout", 0.1),
                            name=f"crossmodal_{name}")
