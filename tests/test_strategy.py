import subprocess
import sys

import pytest

from lipkeras import _quiet

tf = _quiet.import_tensorflow()

from lipkeras.train.strategy import STRATEGIES, canonical_name, describe, distributable, get_strategy


@pytest.mark.parametrize("name", ["default", "mirrored", "one-device"])
def test_strategies_build_a_model_in_scope(name):
    from lipkeras.models import build_model

    strategy = get_strategy(name)
    with strategy.scope():
        model = build_model("fast_tiny", 10)
    assert model.count_params() > 0 and strategy.num_replicas_in_sync >= 1
    assert get_strategy(name) is strategy  # created once per process


@pytest.mark.parametrize(("alias", "name"), [("none", "default"), ("one_device", "one-device"),
                                             ("multi_worker", "multi-worker"), ("Mirrored", "mirrored"),
                                             (None, "default")])
def test_aliases_name_the_canonical_strategies(alias, name):
    assert canonical_name(alias) == name and name in STRATEGIES


def test_unknown_strategy():
    with pytest.raises(ValueError, match="unknown strategy 'warp': use one of default, one-device, mirrored"):
        get_strategy("warp")


def test_describe_states_the_per_replica_batch():
    class TwoReplicas:
        num_replicas_in_sync = 2

    assert describe(TwoReplicas(), 16) == ("strategy TwoReplicas: 2 replicas, global batch 16 = 8 per replica; "
                                           "learning rate not scaled; training batches smaller than the global "
                                           "batch dropped")
    assert "7.50 (uneven) per replica" in describe(TwoReplicas(), 15)
    one = describe(get_strategy("default"), 4)
    assert "1 replica, global batch 4 = 4 per replica" in one and "dropped" not in one


class TwoLocalReplicas:
    num_replicas_in_sync = 2


def test_training_batches_smaller_than_the_global_batch_are_dropped_with_replicas():
    # 5 examples in global batches of 2: the last batch of 1 would leave a replica with none
    data = tf.data.Dataset.range(5).map(lambda i: ({"x": tf.fill([3], i)}, i)).batch(2)
    kept = [int(y.shape[0]) for _, y in distributable(data, TwoLocalReplicas(), 2, examples=5)]
    assert kept == [2, 2]
    assert [int(y.shape[0]) for _, y in distributable(data, get_strategy("default"), 2, examples=5)] == [2, 2, 1]
    assert [int(y.shape[0]) for _, y in distributable(data, TwoLocalReplicas())] == [2, 2, 1]  # validation


def test_fewer_training_examples_than_the_global_batch_is_an_error_with_replicas():
    data = tf.data.Dataset.range(3).batch(4).repeat()  # filtered, it would never yield a batch
    with pytest.raises(ValueError, match="3 training examples make no full global batch of 4, which 2 replicas "
                                         "need: lower --batch-size"):
        distributable(data, TwoLocalReplicas(), 4, examples=3)


def test_config_keeps_the_canonical_name_and_refuses_an_unknown_one():
    from lipkeras.train.config import EmotionConfig, LipReadingConfig

    assert LipReadingConfig(strategy="multi_worker").strategy == "multi-worker"
    with pytest.raises(ValueError, match="unknown strategy"):
        EmotionConfig(strategy="warp")


def test_cli_unknown_strategy_is_a_one_line_error(tmp_path):
    r = subprocess.run([sys.executable, "-m", "lipkeras.train", "--stage", "emotion", "--strategy", "warp",
                        "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=120,
                       check=False)
    assert r.returncode == 2 and not (tmp_path / "run").exists()
    errors = [line for line in r.stderr.splitlines() if "error" in line]
    assert errors == [("lipkeras train: error: unknown strategy 'warp': use one of default, one-device, mirrored, "
                       "multi-worker, tpu")]


def test_help_states_global_batch_semantics():
    r = subprocess.run([sys.executable, "-m", "lipkeras.train", "--stage", "lipnet", "--help"], capture_output=True,
                       text=True, timeout=120, check=False)
    text = " ".join(r.stdout.split())
    assert r.returncode == 0 and "the global batch" in text and "batch-size/R examples per step" in text
    assert "the learning rate is not scaled" in text and "multi-worker reads TF_CONFIG" in text
