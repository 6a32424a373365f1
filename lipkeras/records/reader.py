"""``tf.data`` readers for mouth and face records: parse → normalise → augment → batch → prefetch.

``mouth_dataset`` yields dict batches for lip reading::

    frames         float32 [B, T, H, W, C]   (zero-padded in time)
    frame_lengths  int32   [B]
    labels         int32   [B, L]            character ids, padded with Vocabulary.PAD
    label_lengths  int32   [B]
    transcript, clip_id, speaker  string [B]

``face_dataset`` yields single face images (``mode="frame"``) or face clips (``mode="clip"``)
with integer emotion labels. ``keras_pair`` splits a mouth batch into ``(inputs, targets)``.
"""

from __future__ import annotations

from typing import Sequence

from lipkeras._quiet import import_tensorflow

tf = import_tensorflow()

from lipkeras.preprocess.labels import EMOTIONS
from lipkeras.records import augment
from lipkeras.records import io as rio
from lipkeras.records import schema
from lipkeras.records.vocab import DEFAULT, Vocabulary

AUTOTUNE = tf.data.AUTOTUNE
# Grey-level statistics of mouth ROIs in [0, 1] (LRS3, as used by auto_avsr): the `fixed` option.
FIXED_MEAN, FIXED_STD = 0.421, 0.165


def cluster_workers() -> int:
    """Workers of the multi-worker cluster ``TF_CONFIG`` describes (its chief counts as one); 1 without one."""
    import json
    import os

    try:
        cluster = json.loads(os.environ.get("TF_CONFIG", "") or "{}").get("cluster", {})
    except ValueError:
        return 1
    return max(1, len(cluster.get("worker", [])) + len(cluster.get("chief", [])))


def auto_shard_policy(num_files: int, num_workers: int):
    """FILE (each worker reads whole shards of its own) when every worker gets at least one shard
    file, else DATA (every worker reads all files and keeps every n-th record): FILE with fewer
    files than workers would leave workers without data."""
    if num_workers > 1 and num_files >= num_workers:
        return tf.data.experimental.AutoShardPolicy.FILE
    return tf.data.experimental.AutoShardPolicy.DATA


def records(pattern, shuffle_files: bool = False, seed: int | None = None, cycle_length: int = 4,
            num_workers: int | None = None) -> tf.data.Dataset:
    """Raw serialized examples from every shard matching ``pattern`` (a folder, glob, file or list;
    local or any ``tf.io.gfile`` path such as ``gs://``, ``s3://``). Under a multi-worker strategy the
    dataset is split across ``num_workers`` (default: the ``TF_CONFIG`` cluster's) by
    :func:`auto_shard_policy`."""
    files = rio.list_shards(pattern)
    compression = rio.compression_of(files[0])
    ds = tf.data.Dataset.from_tensor_slices(files)
    if shuffle_files:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.interleave(
        lambda f: tf.data.TFRecordDataset(f, compression_type=compression, buffer_size=1 << 22),
        cycle_length=min(cycle_length, len(files)),
        num_parallel_calls=AUTOTUNE,
        deterministic=not shuffle_files,
    )
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = auto_shard_policy(
        len(files), cluster_workers() if num_workers is None else num_workers)
    return ds.with_options(options)


def normalize(frames, length, mode: str | None = "clip", mean: float = FIXED_MEAN, std: float = FIXED_STD):
    """uint8 → float32. ``clip``: zero mean, unit std over the clip's frames (the LipNet seeds);
    ``fixed``: ``(x/255 - mean) / std``; ``None``: ``x/255``."""
    x = tf.cast(frames, tf.float32) / 255.0
    if mode == "clip":
        valid = x[: tf.maximum(length, 1)]
        m = tf.reduce_mean(valid)
        s = tf.math.reduce_std(valid)
        return (x - m) / tf.maximum(s, 1e-3)
    if mode == "fixed":
        return (x - mean) / std
    if mode in (None, "none", "unit"):
        return x
    raise ValueError(f"normalize must be 'clip', 'fixed' or None, got {mode!r}")


def read_ids(clip_ids) -> list[str]:
    """Clip ids from a list, or from a text file with one id per line (a committed split list)."""
    if isinstance(clip_ids, (str, bytes)) or hasattr(clip_ids, "__fspath__"):
        path = clip_ids.decode() if isinstance(clip_ids, bytes) else clip_ids
        return [line.strip() for line in rio.read_text(path).splitlines() if line.strip()]
    return [str(i) for i in clip_ids]


def _parsed(pattern, roi: str, training: bool, seed, split, audio: bool = False, clip_ids=None) -> tf.data.Dataset:
    """Parsed records that have frames of ``roi`` (in ``split`` and ``clip_ids`` when given)."""
    ds = records(pattern, shuffle_files=training, seed=seed)
    ds = ds.map(lambda s: schema.parse(s, rois=(roi,), audio=audio), num_parallel_calls=AUTOTUNE)
    if split is not None:
        ds = ds.filter(lambda r: tf.equal(r["split"], split))
    if clip_ids is not None:
        ids = read_ids(clip_ids)
        keep = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(ids, tf.string), tf.ones([len(ids)], tf.int32)), 0)
        ds = ds.filter(lambda r: keep.lookup(r["clip_id"]) > 0)
    return ds.filter(lambda r: tf.shape(r[roi])[0] > 0)


def _batch(ds, batch_size, padded_shapes, padding_values, bucket_boundaries, length_key, drop_remainder):
    if bucket_boundaries:
        return ds.bucket_by_sequence_length(
            element_length_func=lambda x: x[length_key],
            bucket_boundaries=list(bucket_boundaries),
            bucket_batch_sizes=[batch_size] * (len(bucket_boundaries) + 1),
            padded_shapes=padded_shapes,
            padding_values=padding_values,
            drop_remainder=drop_remainder,
        )
    return ds.padded_batch(batch_size, padded_shapes=padded_shapes, padding_values=padding_values,
                           drop_remainder=drop_remainder)


def mouth_dataset(
    pattern,
    batch_size: int = 8,
    training: bool = False,
    vocab: Vocabulary = DEFAULT,
    normalization: str | None = "clip",
    crop_size: int | None = None,
    flip: bool = True,
    time_masking: bool = True,
    speed_perturbation: float = 0.0,
    rotation_degrees: float = 0.0,
    zoom: float = 0.0,
    mask_window: int = 10,
    mask_stride: int = 25,
    max_frames: int | None = None,
    pad_to_frames: int | None = None,
    bucket_boundaries: Sequence[int] | None = None,
    shuffle_buffer: int = 256,
    repeat: bool = False,
    drop_remainder: bool = False,
    cache: bool = False,
    include_audio: bool = False,
    split: str | None = None,
    clip_ids=None,
    seed: int | None = None,
) -> tf.data.Dataset:
    """Batches of mouth clips with encoded transcripts (see the module docstring).

    ``training`` turns on shuffling and augmentation (random crop, flip, time masking, and speed
    perturbation by up to ±``speed_perturbation`` when it is > 0, a random rotation of up to
    ±``rotation_degrees`` and scaling by up to ±``zoom`` when they are > 0); without
    it, ``crop_size`` is a centre crop and the order is the shards' order. ``split`` keeps only
    records written to that split; ``clip_ids`` (a list or a split-list file) only those clips.
    ``pad_to_frames`` pads every batch to a fixed T.
    """
    table = vocab.tf_lookup()
    ds = _parsed(pattern, "mouth", training, seed, split, audio=include_audio, clip_ids=clip_ids)
    if cache:
        ds = ds.cache()
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        if repeat:
            ds = ds.repeat()

    def prepare(r):
        frames = r["mouth"]
        if max_frames:
            frames = frames[:max_frames]
        length = tf.shape(frames)[0]
        if training and speed_perturbation > 0:
            frames, length = augment.speed_perturb(frames, length, speed_perturbation, seed=seed)
        x = normalize(frames, length, normalization)
        if training and (rotation_degrees > 0 or zoom > 0):
            x = augment.random_similarity(x, rotation_degrees, zoom, seed=seed)
        if crop_size:
            x = augment.random_crop(x, crop_size, seed) if training else augment.center_crop(x, crop_size)
        if training and flip:
            x = augment.random_flip(x, seed=seed)
        if training and time_masking:
            x = augment.time_mask(x, length, mask_window, mask_stride, seed=seed)
        labels = vocab.tf_encode(r["transcript"], table)
        out = {
            "frames": x,
            "frame_lengths": length,
            "labels": labels,
            "label_lengths": tf.shape(labels)[0],
            "transcript": r["transcript"],
            "clip_id": r["clip_id"],
            "speaker": r["speaker"],
        }
        if include_audio:
            out["audio"] = tf.cast(r["audio"], tf.float32) / 32768.0
        return out

    ds = ds.map(prepare, num_parallel_calls=AUTOTUNE)
    if not training and repeat:
        ds = ds.repeat()
    shapes = {"frames": [pad_to_frames, None, None, None], "frame_lengths": [], "labels": [None],
              "label_lengths": [], "transcript": [], "clip_id": [], "speaker": []}
    values = {"frames": 0.0, "frame_lengths": 0, "labels": vocab.PAD, "label_lengths": 0,
              "transcript": "", "clip_id": "", "speaker": ""}
    if include_audio:
        shapes["audio"], values["audio"] = [None], 0.0
    ds = _batch(ds, batch_size, shapes, values, bucket_boundaries, "frame_lengths", drop_remainder)
    return ds.prefetch(AUTOTUNE)


def keras_pair(batch: dict):
    """``(inputs, targets)`` for ``model.fit``: frames/lengths in, labels/lengths out."""
    return (
        {"frames": batch["frames"], "frame_lengths": batch["frame_lengths"]},
        {"labels": batch["labels"], "label_lengths": batch["label_lengths"]},
    )


def face_dataset(
    pattern,
    batch_size: int = 32,
    training: bool = False,
    mode: str = "frame",
    labels: Sequence[str] | None = EMOTIONS,
    image_size: int | None = None,
    normalization: str | None = None,
    flip: bool = True,
    frames_per_clip: int | None = None,
    max_frames: int | None = None,
    shuffle_buffer: int = 1024,
    repeat: bool = False,
    drop_remainder: bool = False,
    cache: bool = False,
    split: str | None = None,
    clip_ids=None,
    seed: int | None = None,
) -> tf.data.Dataset:
    """Face images (``mode="frame"``) or face clips (``mode="clip"``) with integer labels.

    ``labels`` fixes the label order (ids are positions in it; records with other or no label
    are dropped); ``None`` keeps every record and gives ``label = -1``. ``frames_per_clip``
    samples that many frames per video (evenly spaced; random positions when training), the
    design's balanced sampling. Images come as float32 in [0, 1] unless ``normalization`` says
    otherwise.
    """
    if mode not in ("frame", "clip"):
        raise ValueError(f"mode must be 'frame' or 'clip', got {mode!r}")
    names = list(labels) if labels is not None else []
    table = (tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(names), tf.range(len(names), dtype=tf.int32)), -1)
        if names else None)
    ds = _parsed(pattern, "face", training, seed, split, clip_ids=clip_ids)

    def with_label(r):
        r["label_id"] = table.lookup(r["label"]) if table is not None else tf.constant(-1, tf.int32)
        return r

    ds = ds.map(with_label, num_parallel_calls=AUTOTUNE)
    if table is not None:
        ds = ds.filter(lambda r: r["label_id"] >= 0)
    if cache:
        ds = ds.cache()

    def sample(r):
        frames = r["face"]
        if max_frames:
            frames = frames[:max_frames]
        if frames_per_clip:
            T = tf.shape(frames)[0]
            if training:
                idx = tf.sort(tf.random.uniform([frames_per_clip], 0, T, tf.int32, seed=seed))
            else:
                idx = tf.cast(tf.linspace(0.0, tf.cast(T - 1, tf.float32), frames_per_clip), tf.int32)
            frames = tf.gather(frames, idx)
        length = tf.shape(frames)[0]
        x = normalize(frames, length, normalization)
        if image_size:
            x = tf.image.resize(x, [image_size, image_size])
        return {"frames": x, "frame_lengths": length, "label": r["label_id"], "label_name": r["label"],
                "clip_id": r["clip_id"]}

    ds = ds.map(sample, num_parallel_calls=AUTOTUNE)
    if mode == "frame":
        ds = ds.flat_map(lambda r: tf.data.Dataset.from_tensor_slices({
            "image": r["frames"],
            "label": tf.fill([r["frame_lengths"]], r["label"]),
            "label_name": tf.fill([r["frame_lengths"]], r["label_name"]),
            "clip_id": tf.fill([r["frame_lengths"]], r["clip_id"]),
        }))
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        if flip:
            key = "image" if mode == "frame" else "frames"
            axis = 1 if mode == "frame" else 2

            def do_flip(r):
                f = tf.random.uniform([], seed=seed) < 0.5
                r[key] = tf.cond(f, lambda: tf.reverse(r[key], axis=[axis]), lambda: r[key])
                return r

            ds = ds.map(do_flip, num_parallel_calls=AUTOTUNE)
    if repeat:
        ds = ds.repeat()
    if mode == "frame":
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    else:
        shapes = {"frames": [None, None, None, None], "frame_lengths": [], "label": [], "label_name": [], "clip_id": []}
        values = {"frames": 0.0, "frame_lengths": 0, "label": -1, "label_name": "", "clip_id": ""}
        ds = ds.padded_batch(batch_size, padded_shapes=shapes, padding_values=values, drop_remainder=drop_remainder)
    return ds.prefetch(AUTOTUNE)
