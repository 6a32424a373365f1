"""``--strategy``: the ``tf.distribute`` strategy every training stage builds and fits its model under.

Batch semantics (the same for every stage and strategy): ``--batch-size`` is the *global* batch,
the examples of one optimisation step over all replicas; each of the R replicas computes on
``batch_size / R`` of them and the gradients are summed across replicas (Keras scales each
replica's loss by 1/R), so one step sees the same examples and takes the same update as on one
device. The learning rate is therefore *not* scaled with the number of replicas.

``multi-worker`` reads the cluster from ``TF_CONFIG`` and must be created before any other
TensorFlow op runs: ``python -m lipkeras.train`` creates it first thing (``get_strategy`` caches
it, so the stage later gets the same object).
"""

from __future__ import annotations

import contextlib

STRATEGIES = ("default", "one-device", "mirrored", "multi-worker", "tpu")
# old and underscore spellings of the names above
ALIASES = {"none": "default", "one_device": "one-device", "onedevice": "one-device", "multi_worker": "multi-worker",
           "multiworker": "multi-worker"}
STRATEGY_HELP = (f"tf.distribute strategy: {', '.join(STRATEGIES)} (multi-worker reads TF_CONFIG). --batch-size is "
                 "the global batch: each of R replicas computes on batch-size/R examples per step; the learning "
                 "rate is not scaled")

_created: dict = {}


def canonical_name(name: str | None) -> str:
    """``name`` as one of ``STRATEGIES`` (underscore spellings and the old ``none`` accepted)."""
    key = (name or "default").strip().lower()
    key = ALIASES.get(key, key)
    if key not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}: use one of {', '.join(STRATEGIES)}")
    return key


def get_strategy(name: str | None = "default"):
    """The strategy ``name`` names, created once per process (a second ``MultiWorkerMirroredStrategy``
    cannot join the cluster again, and creating one after other TF ops fails)."""
    key = canonical_name(name)
    if key not in _created:
        _created[key] = _create(key)
    return _created[key]


def _create(key: str):
    import tensorflow as tf

    if key == "default":
        return tf.distribute.get_strategy()
    if key == "mirrored":
        if not tf.config.list_logical_devices("GPU"):
            # no GPU: every logical CPU device (one, unless tf.config.set_logical_device_configuration split it)
            return tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")])
        return tf.distribute.MirroredStrategy()  # every local GPU
    if key == "one-device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if key == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def describe(strategy, global_batch: int) -> str:
    """The line each stage prints at its start: replicas, the global and per-replica batch, the rate."""
    replicas = strategy.num_replicas_in_sync
    workers = getattr(getattr(strategy, "extended", None), "_num_workers", 1) or 1
    per_replica = global_batch / replicas
    per_text = f"{per_replica:g}" if per_replica == int(per_replica) else f"{per_replica:.2f} (uneven)"
    where = f" on {workers} workers" if workers > 1 else ""
    return (f"strategy {type(strategy).__name__}: {replicas} replica{'s' if replicas > 1 else ''}{where}, "
            f"global batch {global_batch} = {per_text} per replica; learning rate not scaled")


def synchronize_batch_norm(model, strategy) -> int:
    """With more than one replica, make the model's BatchNormalization layers normalise by the
    statistics of the global batch (sums all-reduced across replicas), as one device would; returns
    how many layers. Keras' ``synchronized=True`` covers unmasked inputs only (its masked moments,
    e.g. over the padded frames of a clip, stay per replica), so the masked case is replaced too."""
    import functools

    import keras

    if strategy.num_replicas_in_sync <= 1 or keras.backend.backend() != "tensorflow":
        return 0
    layers = [layer for layer in model._flatten_layers(include_self=False, recursive=True)
              if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in layers:
        layer.synchronized = True  # read when the training step is traced
        layer._moments = functools.partial(_synchronized_moments, layer)
    return len(layers)


def clip_after_all_reduce(optimizer, strategy) -> bool:
    """With more than one replica, clip the *summed* gradient, as one device would: Keras clips
    (``clipnorm``, ``global_clipnorm``, ``clipvalue``) each replica's gradient before they are
    summed, so two replicas could step up to twice as far as one. The gradients are summed here
    first and each replica passes on 1/R of the clipped sum (Keras then sums those R shares)."""
    import keras

    if strategy.num_replicas_in_sync <= 1 or keras.backend.backend() != "tensorflow":
        return False
    if not (optimizer.clipnorm or optimizer.global_clipnorm or optimizer.clipvalue):
        return False
    clip = optimizer._clip_gradients

    def clip_summed(grads):
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync <= 1:
            return clip(grads)
        present = [i for i, g in enumerate(grads) if g is not None]
        summed = context.all_reduce(tf.distribute.ReduceOp.SUM, [grads[i] for i in present])
        grads = list(grads)
        for i, g in zip(present, summed):
            grads[i] = g
        share = 1.0 / context.num_replicas_in_sync
        return [None if g is None else g * share for g in clip(grads)]

    optimizer._clip_gradients = clip_summed
    return True


def same_as_one_device(model, strategy) -> None:
    """After ``compile``, under more than one replica: BatchNorm over the global batch and gradient
    clipping of the summed gradient, so that a step matches one device's on the same global batch."""
    synchronize_batch_norm(model, strategy)
    if getattr(model, "optimizer", None) is not None:
        clip_after_all_reduce(model.optimizer, strategy)


def _synchronized_moments(layer, inputs, mask):
    """``BatchNormalization._moments`` over every replica's batch: the same two passes (mean, then
    the mean squared difference), each of its sums all-reduced."""
    import tensorflow as tf
    from keras import ops

    axes = layer._reduction_axes
    if mask is None:
        return ops.moments(inputs, axes=axes, synchronized=True)
    context = tf.distribute.get_replica_context()

    def total(*values):
        if context is None or context.num_replicas_in_sync <= 1:
            return values
        return context.all_reduce(tf.distribute.ReduceOp.SUM, list(values))

    weights = ops.cast(ops.broadcast_to(ops.expand_dims(mask, -1), ops.shape(inputs)), inputs.dtype)
    summed, count = total(ops.sum(inputs * weights, axes, keepdims=True), ops.sum(weights, axes, keepdims=True))
    mean = summed / (count + keras_epsilon())
    (squares,) = total(ops.sum(ops.square((inputs - mean) * weights), axes, keepdims=True))
    return ops.squeeze(mean), ops.squeeze(squares / (count + keras_epsilon()))


def keras_epsilon() -> float:
    import keras

    return keras.backend.epsilon()


@contextlib.contextmanager
def model_scope(name: str | None, global_batch: int | None = None):
    """``with model_scope(cfg.strategy, cfg.batch_size) as strategy:`` build and compile the model
    (its variables, the optimizer's and the metrics') under the strategy; prints ``describe``."""
    strategy = get_strategy(name)
    if global_batch is not None:
        print(describe(strategy, global_batch), flush=True)
    with strategy.scope():
        yield strategy


def distributable(dataset, strategy):
    """``dataset`` (global batches) ready for ``model.fit`` under ``strategy``: across workers it is
    sharded by data (each worker reads every record and keeps its share of each global batch), as
    the records' shards need not divide among the workers."""
    import tensorflow as tf

    if getattr(getattr(strategy, "extended", None), "_num_workers", 1) <= 1:
        return dataset
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)
