"""``tf.data`` reader of the audio in records: ``audio_dataset`` yields dict batches::

    waveform   float32 [B, max_samples]   int16 PCM / 32768, zero-padded
    lengths    int32   [B]                real samples in each row
    label      int32   [B]                position of the record's label in ``labels`` (-1 without ``labels``)
    label_name, clip_id, speaker  string [B]

Each clip is cut to ``max_seconds``: a random window when training (a new one every epoch), the
centred window otherwise (what evaluation and ``SpeechEmotionReader`` do). Records without audio,
with fewer samples than ``min_samples``, recorded at another rate than ``sample_rate``, or whose
label is not in ``labels`` are left out.
"""

from __future__ import annotations

from collections.abc import Sequence

from lipkeras._quiet import import_tensorflow

tf = import_tensorflow()

from lipkeras.records import schema
from lipkeras.records.reader import AUTOTUNE, read_ids, records


def centre_crop_bounds(n: int, max_samples: int) -> tuple[int, int]:
    """``(start, stop)`` of the centred window of at most ``max_samples`` of ``n`` samples (NumPy callers)."""
    if not max_samples or n <= max_samples:
        return 0, n
    start = (n - max_samples) // 2
    return start, start + max_samples


def centred(wave, max_samples: int):
    """The centred window of at most ``max_samples`` of a 1-D array (0: all): what evaluation and the readers use."""
    if not max_samples:
        return wave
    start, stop = centre_crop_bounds(len(wave), max_samples)
    return wave[start:stop]


def audio_dataset(
    pattern,
    batch_size: int = 32,
    training: bool = False,
    labels: Sequence[str] | None = None,
    max_seconds: float = 3.0,
    sample_rate: int = 16000,
    min_samples: int = 400,
    gain_db: float = 0.0,
    shuffle_buffer: int = 2048,
    repeat: bool = False,
    drop_remainder: bool = False,
    cache: bool = True,
    split: str | None = None,
    clip_ids=None,
    seed: int | None = None,
) -> tf.data.Dataset:
    """Batches of waveforms cut to ``max_seconds`` (see the module docstring).

    ``gain_db`` > 0 scales each training clip by a random gain within ±``gain_db`` dB (clipped to
    [-1, 1]); ``cache`` keeps the decoded int16 clips in memory after the first pass (RAVDESS
    speech: ~140 MB). ``split`` keeps records written to that split; ``clip_ids`` (a list or a
    split-list file) only those clips.
    """
    names = list(labels) if labels is not None else []
    table = (tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(names), tf.range(len(names), dtype=tf.int32)), -1)
        if names else None)
    max_samples = int(round(max_seconds * sample_rate)) if max_seconds else 0
    ds = records(pattern, shuffle_files=False)
    ds = ds.map(lambda s: schema.parse(s, rois=(), audio=True), num_parallel_calls=AUTOTUNE)
    if split is not None:
        ds = ds.filter(lambda r: tf.equal(r["split"], split))
    if clip_ids is not None:
        ids = read_ids(clip_ids)
        keep = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(ids, tf.string), tf.ones([len(ids)], tf.int32)), 0)
        ds = ds.filter(lambda r: keep.lookup(r["clip_id"]) > 0)
    # no audio (a video record written without --audio), too short for one frame, or another rate
    ds = ds.filter(lambda r: (tf.size(r["audio"]) >= max(1, min_samples)) & tf.equal(r["audio_rate"], sample_rate))

    def slim(r):
        label = table.lookup(r["label"]) if table is not None else tf.constant(-1, tf.int32)
        return {"audio": r["audio"], "label": label, "label_name": r["label"], "clip_id": r["clip_id"],
                "speaker": r["speaker"]}

    ds = ds.map(slim, num_parallel_calls=AUTOTUNE)
    if table is not None:
        ds = ds.filter(lambda r: r["label"] >= 0)
    if cache:
        ds = ds.cache()  # int16 clips before cropping: each epoch still draws new windows
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()

    def cut(r):
        audio = r["audio"]
        n = tf.size(audio)
        if max_samples:
            room = tf.maximum(n - max_samples, 0)
            start = (tf.random.uniform([], 0, room + 1, tf.int32, seed=seed) if training else room // 2)
            audio = audio[start:start + max_samples]
        x = tf.cast(audio, tf.float32) / 32768.0
        if training and gain_db > 0:
            db = tf.random.uniform([], -gain_db, gain_db, seed=seed)
            x = tf.clip_by_value(x * tf.pow(10.0, db / 20.0), -1.0, 1.0)
        return {"waveform": x, "lengths": tf.size(x), "label": r["label"], "label_name": r["label_name"],
                "clip_id": r["clip_id"], "speaker": r["speaker"]}

    ds = ds.map(cut, num_parallel_calls=AUTOTUNE)
    # a fixed width when cropping: one traced graph for every batch
    shapes = {"waveform": [max_samples or None], "lengths": [], "label": [], "label_name": [], "clip_id": [],
              "speaker": []}
    values = {"waveform": 0.0, "lengths": 0, "label": -1, "label_name": "", "clip_id": "", "speaker": ""}
    ds = ds.padded_batch(batch_size, padded_shapes=shapes, padding_values=values, drop_remainder=drop_remainder)
    return ds.prefetch(AUTOTUNE)


def model_inputs(batch: dict):
    """``(inputs, label ids)`` for ``model.fit``/``evaluate`` from an ``audio_dataset`` batch."""
    return {"waveform": batch["waveform"], "lengths": batch["lengths"]}, batch["label"]
