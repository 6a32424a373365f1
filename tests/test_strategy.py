import pytest

from lipkeras import _quiet

tf = _quiet.import_tensorflow()

from lipkeras.train.strategy import get_strategy  # noqa: E402


@pytest.mark.parametrize("name", ["none", "mirrored", "one_device"])
def test_strategies_build_a_model_in_scope(name):
    from lipkeras.models import build_model

    strategy = get_strategy(name)
    with strategy.scope():
        model = build_model("fast_tiny", 10)
    assert model.count_params() > 0 and strategy.num_replicas_in_sync >= 1


def test_unknown_strategy():
    with pytest.raises(ValueError, match="unknown strategy"):
        get_strategy("warp")
