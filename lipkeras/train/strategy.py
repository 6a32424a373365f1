"""``--strategy``: a ``tf.distribute`` strategy by name (default: none, the plain CPU/GPU)."""

from __future__ import annotations

import contextlib


def get_strategy(name: str):
    import tensorflow as tf

    name = (name or "none").lower()
    if name in ("none", "default"):
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name in ("one_device", "onedevice"):
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name in ("multi_worker", "multiworker"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"unknown strategy {name!r}: none, mirrored, one_device, multi_worker, tpu")


def scope(strategy):
    return strategy.scope() if strategy is not None else contextlib.nullcontext()
