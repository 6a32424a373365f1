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


def num_workers(strategy) -> int:
    """How many processes (workers) the strategy's replicas are spread over: 1 but under multi-worker."""
    return int(getattr(getattr(strategy, "extended", None), "_num_workers", 1) or 1)


def strategy_name(strategy) -> str:
    """The strategy's public class name (``tf.distribute.MultiWorkerMirroredStrategy`` is implemented
    by a class named ``CollectiveAllReduceStrategy``)."""
    name = type(strategy).__name__
    return "MultiWorkerMirroredStrategy" if name == "CollectiveAllReduceStrategy" else name


def describe(strategy, global_batch: int) -> str:
    """The line each stage prints at its start: replicas, the global and per-replica batch, the rate."""
    replicas = strategy.num_replicas_in_sync
    workers = num_workers(strategy)
    per_replica = global_batch / replicas
    per_text = f"{per_replica:g}" if per_replica == int(per_replica) else f"{per_replica:.2f} (uneven)"
    where = f" on {workers} workers" if workers > 1 else ""
    dropped = "; training batches smaller than the global batch dropped" if replicas > 1 else ""
    return (f"strategy {strategy_name(strategy)}: {replicas} replica{'s' if replicas > 1 else ''}{where}, "
            f"global batch {global_batch} = {per_text} per replica; learning rate not scaled{dropped}")


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


def fit_like_one_device(model, strategy) -> list[str]:
    """Work around two places where Keras 3's TensorFlow trainer treats a model built under a
    strategy differently from one device (keras-team/keras#20585, #20329); returns what it changed.

    * ``fit``/``evaluate`` first build the model (and its loss and metrics) from a first batch: under
      a strategy Keras takes it from an iterator of the dataset made for the purpose, and then
      starts training from a second iterator. A dataset that reshuffles each iteration
      (``shuffle(..., reshuffle_each_iteration=True)``, as the emotion stage's) therefore trains on
      the order of its *second* pass, not the first as on one device; across workers that batch is
      moreover all-reduced with ``strategy.reduce``, which there does not map over a nested batch
      ("Attempt to convert a value ({'frames': PerReplica...}) with an unsupported type (<class
      'dict'>) to a Tensor"). The build needs only the batch's structure, shapes and dtypes: here
      it reads them from the dataset's ``element_spec``, without iterating.
    * across workers, each step's logs (scalars: the loss and metric results) are averaged across
      replicas with ``strategy.reduce("MEAN", value, axis=0)``, an axis a scalar lacks ("Invalid
      reduction dimension 0 for input with 0 dimensions"); scalars are averaged over the replicas
      instead, as Keras does under MirroredStrategy (``_average_scalar_logs_across_workers``)."""
    import keras

    if keras.backend.backend() != "tensorflow" or getattr(model, "_distribute_strategy", None) is None:
        return []
    keras_build = model._maybe_symbolic_build

    def maybe_symbolic_build(iterator=None, data_batch=None):
        spec = getattr(getattr(iterator, "data_adapter", None), "get_tf_dataset", None)
        if iterator is not None and spec is not None:
            return keras_build(data_batch=spec().element_spec)  # TensorSpecs: shape and dtype suffice
        return keras_build(iterator=iterator, data_batch=data_batch)

    model._maybe_symbolic_build = maybe_symbolic_build
    changed = ["build from the element spec"]
    if num_workers(strategy) > 1:
        _average_scalar_logs_across_workers()
        changed.append("scalar logs averaged across workers")
    return changed


def _average_scalar_logs_across_workers() -> None:
    """Replace (once per process) Keras' ``reduce_per_replica``, which its train/test step calls,
    by one that averages scalar per-replica values across workers (see ``fit_like_one_device``)."""
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer as keras_trainer

    keras_reduce = keras_trainer.reduce_per_replica
    if getattr(keras_reduce, "averages_scalars_across_workers", False):
        return

    def is_scalar_per_replica(value, strategy) -> bool:
        # with one replica per worker, a step's outputs are plain tensors, not PerReplica values
        return isinstance(value, (tf.Tensor, tf.distribute.DistributedValues)) and all(
            part.shape.rank == 0 for part in strategy.experimental_local_results(value))

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") or not keras_trainer._collective_all_reduce_multi_worker(strategy):
            return keras_reduce(values, strategy, reduction)
        return tf.nest.map_structure(
            lambda v: (strategy.reduce("MEAN", v, axis=None) if is_scalar_per_replica(v, strategy)
                       else keras_reduce(v, strategy, reduction)), values)

    reduce_per_replica.averages_scalars_across_workers = True
    keras_trainer.reduce_per_replica = reduce_per_replica


def same_as_one_device(model, strategy) -> None:
    """After ``compile``: under more than one replica, BatchNorm over the global batch and gradient
    clipping of the summed gradient, so that a step matches one device's on the same global batch;
    under any strategy, Keras' ``fit`` reads the data as on one device (``fit_like_one_device``)."""
    synchronize_batch_norm(model, strategy)
    if getattr(model, "optimizer", None) is not None:
        clip_after_all_reduce(model.optimizer, strategy)
    fit_like_one_device(model, strategy)


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


def distributable(dataset, strategy, global_batch: int | None = None, examples: int | None = None):
    """``dataset`` (global batches) ready for ``model.fit`` under ``strategy``: across workers it is
    sharded by data (each worker reads every record and keeps its share of each global batch), as
    the records' shards need not divide among the workers. With ``global_batch`` (training data)
    and more than one replica, batches smaller than it (the last of a pass) are dropped: a batch of
    fewer examples than replicas leaves a replica with none, which aborts the step (a shape mismatch
    in the collectives of the synchronised BatchNorm), and any partial batch is split unevenly.
    ``examples`` (the training examples, where known) smaller than ``global_batch`` is then an error:
    no batch would be left (a repeated dataset would look for one for ever)."""
    import tensorflow as tf

    if global_batch and strategy.num_replicas_in_sync > 1:
        if examples is not None and examples < global_batch:
            raise ValueError(f"{examples} training examples make no full global batch of {global_batch}, which "
                             f"{strategy.num_replicas_in_sync} replicas need: lower --batch-size")
        def full(*batch):
            return tf.shape(tf.nest.flatten(batch)[0])[0] == global_batch

        dataset = dataset.filter(full)
    if num_workers(strategy) <= 1:
        return dataset
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)
