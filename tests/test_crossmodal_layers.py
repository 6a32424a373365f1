"""Tiny-shape tests of the cross-modal reader's layers (B=2, T=8, 32×32, vocab 10)."""

import numpy as np
import pytest

from lipkeras import _quiet

_quiet.import_tensorflow()
import keras  # noqa: E402

from lipkeras.layers import (Conv3DStem, LocalPoolAttention, PositionwiseFeedForward, ResidualBlock,  # noqa: E402
                             ResNetTrunk, SinusoidalPositionEncoding, TransformerDecoder, TransformerDecoderLayer,
                             WeightedDynamicAggregation)

B, T, H, W, V = 2, 8, 32, 32, 10
LENGTHS = np.array([8, 5])
MASK = np.arange(T)[None] < LENGTHS[:, None]
rng = np.random.default_rng(0)


def _with_new_padding(x):
    """The same batch with different content in the padded frames of clip 1."""
    y = np.array(x, copy=True)
    y[1, LENGTHS[1]:] = rng.normal(size=y[1, LENGTHS[1]:].shape) * 5
    return y


def _round_trip(layer):
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    return clone


def test_position_encoding_values_and_any_length():
    pe = SinusoidalPositionEncoding()
    y = np.asarray(pe(np.zeros((1, 5, 8), "float32")))
    np.testing.assert_allclose(y[0, 0], [0, 1] * 4, atol=1e-6)  # sin 0, cos 0
    np.testing.assert_allclose(y[0, 3, :2], [np.sin(3), np.cos(3)], atol=1e-5)
    assert pe(np.zeros((2, 11, 8), "float32")).shape == (2, 11, 8)
    assert _round_trip(pe).max_wavelength == 10000.0


def test_stem_shapes_and_padding_does_not_leak():
    x = rng.random((B, T, H, W, 1)).astype("float32")
    stem = Conv3DStem(4, (3, 5, 5))
    y = np.asarray(stem(x, mask=MASK))
    assert y.shape == (B, T, 8, 8, 4)
    assert np.all(y[1, LENGTHS[1]:] == 0)
    y2 = np.asarray(stem(_with_new_padding(x), mask=MASK))
    np.testing.assert_allclose(y2[1, :LENGTHS[1]], y[1, :LENGTHS[1]], atol=1e-5)
    assert _round_trip(stem).kernel_size == (3, 5, 5)
    with pytest.raises(ValueError, match="temporal strides"):
        Conv3DStem(4, strides=(2, 2, 2))


@pytest.mark.parametrize("bottleneck", [False, True])
def test_residual_block(bottleneck):
    blk = ResidualBlock(4, strides=2, bottleneck=bottleneck)
    y = blk(rng.random((3, 8, 8, 6)).astype("float32"))
    assert y.shape == (3, 4, 4, 16 if bottleneck else 4)
    assert np.all(np.asarray(y) >= 0)
    assert _round_trip(blk).bottleneck == bottleneck


def test_resnet_trunk_returns_every_stage_and_layouts():
    x = rng.random((B, T, 8, 8, 4)).astype("float32")
    trunk = ResNetTrunk(block="bottleneck", stage_blocks=(1, 1), stage_filters=(2, 4))
    maps = trunk(x, mask=MASK)
    assert [tuple(m.shape) for m in maps] == [(B, T, 8, 8, 8), (B, T, 4, 4, 16)]
    assert np.all(np.asarray(maps[1])[1, LENGTHS[1]:] == 0)
    clone = _round_trip(trunk)
    assert clone.block == "bottleneck" and clone.stage_filters == (2, 4)
    r50 = ResNetTrunk("resnet50")
    assert r50.block == "bottleneck" and r50.stage_blocks == (3, 4, 6, 3)
    assert [s[-1] for s in r50.compute_output_shape((1, 2, 22, 22, 64))] == [256, 512, 1024, 2048]
    r18 = ResNetTrunk("resnet18")
    assert [s[-1] for s in r18.compute_output_shape((1, 2, 22, 22, 64))] == [64, 128, 256, 512]
    with pytest.raises(ValueError, match="layout"):
        ResNetTrunk("resnet7")


def test_local_pool_attention_shapes_masking_and_config():
    x = rng.random((B, T, 6, 6, 3)).astype("float32")
    lpa = LocalPoolAttention(d_model=8, num_heads=2, pool_size=2, dropout=0.0)
    y = np.asarray(lpa(x, mask=MASK))
    assert y.shape == (B, T, 8) and lpa.flat_dim == 3 * 3 * 3
    assert np.all(y[1, LENGTHS[1]:] == 0)
    y2 = np.asarray(lpa(_with_new_padding(x), mask=MASK))
    np.testing.assert_allclose(y2[:, :5], y[:, :5], atol=1e-5)  # real frames never read padding
    np.testing.assert_allclose(y2[0], y[0], atol=1e-5)
    assert _round_trip(lpa).pool_size == 2


def test_weighted_dynamic_aggregation():
    xs = [rng.random((B, T, 8)).astype("float32") for _ in range(3)]
    wda = WeightedDynamicAggregation(d_model=4)
    y = np.asarray(wda(xs))
    assert y.shape == (B, T, 4)
    lam = wda.scale_weights()
    np.testing.assert_allclose(lam, [1 / 3] * 3, atol=1e-6)
    wda.scale_logits.assign(np.array([2.0, 0.0, -1.0], "float32"))
    lam = wda.scale_weights()
    assert abs(lam.sum() - 1) < 1e-6 and lam[0] > lam[1] > lam[2]
    k, b = (np.asarray(v) for v in wda.output_projection.weights)
    expected = sum(l * x for l, x in zip(lam, xs)) @ k + b
    np.testing.assert_allclose(np.asarray(wda(xs)), expected, atol=1e-5)
    assert _round_trip(wda).d_model == 4


def test_post_ffn_is_relu_affine_affine():
    x = rng.random((B, T, 6)).astype("float32")
    ffn = PositionwiseFeedForward(hidden_dim=12, output_dim=5)
    y = np.asarray(ffn(x))
    w1, b1 = (np.asarray(v) for v in ffn.inner.weights)
    w2, b2 = (np.asarray(v) for v in ffn.outer.weights)
    np.testing.assert_allclose(y, np.maximum(x @ w1 + b1, 0) @ w2 + b2, atol=1e-5)
    res = PositionwiseFeedForward(hidden_dim=12, residual=True)
    assert res(x).shape == x.shape
    assert _round_trip(ffn).output_dim == 5
    with pytest.raises(ValueError, match="residual"):
        PositionwiseFeedForward(4, output_dim=3, residual=True)(x)


def _tokens():
    return np.array([[V - 1, 1, 2, 3, 4, 5], [V - 1, 6, 7, 0, 0, 0]], "int32")


def test_decoder_layer_causal_and_memory_mask():
    x = rng.random((B, 6, 8)).astype("float32")
    mem = rng.random((B, T, 8)).astype("float32")
    layer = TransformerDecoderLayer(8, 2, 16, dropout=0.0)
    y = np.asarray(layer(x, memory=mem, memory_mask=MASK))
    assert y.shape == (B, 6, 8)
    x2 = x.copy()
    x2[:, 4:] = rng.random((B, 2, 8))
    y2 = np.asarray(layer(x2, memory=mem, memory_mask=MASK))
    np.testing.assert_allclose(y2[:, :4], y[:, :4], atol=1e-5)  # the future does not change the past
    assert np.abs(y2[:, 4:] - y[:, 4:]).max() > 1e-4
    y3 = np.asarray(layer(x, memory=_with_new_padding(mem), memory_mask=MASK))
    np.testing.assert_allclose(y3, y, atol=1e-5)  # padded memory frames are never attended
    assert layer(x).shape == (B, 6, 8)  # usable without memory
    assert _round_trip(layer).cross_attention


def test_transformer_decoder_with_and_without_memory():
    tokens = _tokens()
    mem = rng.random((B, T, 12)).astype("float32")
    dec = TransformerDecoder(V, d_model=8, num_layers=2, num_heads=2, ff_dim=16, dropout=0.0)
    logits = np.asarray(dec(tokens, memory=mem, memory_mask=MASK))
    assert logits.shape == (B, 6, V)
    future = tokens.copy()
    future[0, 3:] = [7, 7, 7]
    np.testing.assert_allclose(np.asarray(dec(future, memory=mem, memory_mask=MASK))[0, :3], logits[0, :3], atol=1e-5)
    lm = TransformerDecoder(V, d_model=8, num_layers=1, num_heads=2, ff_dim=16, cross_attention=False)
    assert lm(tokens).shape == (B, 6, V)
    assert not any("cross" in w.path for w in lm.weights)
    clone = _round_trip(dec)
    assert clone.num_layers == 2 and clone.vocab_size == V


def test_layers_save_and_load_in_a_model(tmp_path):
    tokens = keras.Input((None,), dtype="int32")
    out = TransformerDecoder(V, 8, 1, 2, 16, cross_attention=False)(tokens)
    model = keras.Model(tokens, out)
    x = _tokens()
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(model(x)), atol=1e-6)
