import numpy as np
import pytest
import tensorflow as tf

from lipkeras.records import augment, face_dataset, keras_pair, mouth_dataset
from lipkeras.records.vocab import DEFAULT


def test_mouth_batches_are_padded_and_encoded(tiny_records):
    batches = list(mouth_dataset(str(tiny_records), batch_size=2))
    assert sum(int(b["frames"].shape[0]) for b in batches) == 4
    b = batches[0]
    assert b["frames"].dtype == tf.float32 and b["frames"].shape[2:] == (32, 32, 1)
    lengths = b["frame_lengths"].numpy()
    assert b["frames"].shape[1] == lengths.max()
    short = int(np.argmin(lengths))
    assert np.all(b["frames"][short, lengths[short]:].numpy() == 0.0)  # time padding
    for i in range(2):
        n = int(b["label_lengths"][i])
        assert DEFAULT.decode(b["labels"][i, :n].numpy()) == b["transcript"][i].numpy().decode()
        assert np.all(b["labels"][i, n:].numpy() == DEFAULT.PAD)


def test_clip_normalisation_zero_mean_unit_std(tiny_records):
    b = next(iter(mouth_dataset(str(tiny_records), batch_size=1)))
    x = b["frames"][0, : b["frame_lengths"][0]].numpy()
    assert abs(x.mean()) < 1e-4 and abs(x.std() - 1) < 1e-3
    raw = next(iter(mouth_dataset(str(tiny_records), batch_size=1, normalization=None)))
    assert 0.0 <= float(tf.reduce_min(raw["frames"])) and float(tf.reduce_max(raw["frames"])) <= 1.0


def test_eval_is_deterministic_and_training_augments(tiny_records):
    def frames(ds):
        return [b["frames"].numpy() for b in ds]

    a = frames(mouth_dataset(str(tiny_records), batch_size=4, crop_size=24))
    b = frames(mouth_dataset(str(tiny_records), batch_size=4, crop_size=24))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert a[0].shape[2:4] == (24, 24)
    t = next(iter(mouth_dataset(str(tiny_records), batch_size=4, training=True, crop_size=24, seed=1)))
    assert t["frames"].shape[2:4] == (24, 24)


def test_bucketing_and_fixed_padding(tiny_records):
    ds = mouth_dataset(str(tiny_records), batch_size=2, bucket_boundaries=[7])
    sizes = sorted(int(b["frames"].shape[1]) for b in ds)
    assert sizes == [6, 8]  # lengths 5,6 in one bucket, 7,8 in the other
    b = next(iter(mouth_dataset(str(tiny_records), batch_size=2, pad_to_frames=12)))
    assert b["frames"].shape[1] == 12


def test_split_filter_and_keras_pair(tiny_records):
    assert list(mouth_dataset(str(tiny_records), split="val")) == []
    x, y = keras_pair(next(iter(mouth_dataset(str(tiny_records), batch_size=2))))
    assert set(x) == {"frames", "frame_lengths"} and set(y) == {"labels", "label_lengths"}


def test_time_mask_replaces_windows_with_the_mean():
    x = tf.reshape(tf.range(50 * 4, dtype=tf.float32), [50, 2, 2, 1])
    y = augment.time_mask(x, 50, window=10, stride=25, seed=3).numpy()
    changed = np.any(y != x.numpy(), axis=(1, 2, 3))
    assert changed.sum() <= 20
    np.testing.assert_allclose(y[changed], float(tf.reduce_mean(x)))
    same = augment.time_mask(x, 10, window=10, stride=25).numpy()  # shorter than one stride: no mask
    np.testing.assert_array_equal(same, x.numpy())


def test_speed_perturb_resamples_frames_in_order():
    x = tf.reshape(tf.range(40 * 4, dtype=tf.float32), [40, 2, 2, 1])
    for seed in range(5):
        y, n = augment.speed_perturb(x, 30, max_change=0.2, seed=seed)
        n = int(n)
        assert 25 <= n <= 38 and y.shape[0] == n  # 30 / 1.2 … 30 / 0.8
        index = y.numpy()[:, 0, 0, 0] / 4
        assert index[0] == 0 and index.max() <= 29  # frames past the clip's length never used
        assert np.all(np.diff(index) >= 0) and np.all(np.diff(index) <= 2)


def test_speed_perturbation_in_the_reader(tiny_records):
    b = next(iter(mouth_dataset(str(tiny_records), batch_size=4, training=True, speed_perturbation=0.5, seed=1)))
    assert int(tf.reduce_max(b["frame_lengths"])) == b["frames"].shape[1]


def test_similarity_warp_turns_and_scales_about_the_centre():
    dot = np.zeros((2, 9, 9, 1), np.float32)
    dot[:, 1, 4] = 1.0  # above the centre
    turned = augment.similarity_warp(dot, 90.0, 1.0).numpy()
    assert [tuple(p) for p in np.argwhere(turned[..., 0] > 0.5)] == [(0, 4, 1), (1, 4, 1)]  # left of it, both frames
    square = np.zeros((1, 21, 21, 1), np.float32)
    square[:, 8:13, 8:13] = 1.0
    assert int((augment.similarity_warp(square, 0.0, 2.0).numpy() > 0.5).sum()) == 81  # 5x5 -> 9x9
    np.testing.assert_allclose(augment.similarity_warp(square, 0.0, 1.0).numpy(), square, atol=1e-6)


def test_random_similarity_is_one_draw_per_clip_and_in_the_reader(tiny_records):
    clip = np.repeat(np.random.default_rng(0).random((1, 16, 16, 1), np.float32), 3, axis=0)
    out = augment.random_similarity(clip, max_degrees=15.0, max_scale=0.1, seed=4).numpy()
    assert out.shape == clip.shape and not np.allclose(out, clip)
    np.testing.assert_array_equal(out[0], out[2])  # every frame gets the same warp
    b = next(iter(mouth_dataset(str(tiny_records), batch_size=4, training=True, rotation_degrees=10.0, zoom=0.1, seed=1)))
    assert b["frames"].shape[2:] == (32, 32, 1) and bool(tf.reduce_all(tf.math.is_finite(b["frames"])))


def test_flip_and_crops():
    x = tf.reshape(tf.range(2 * 4 * 4, dtype=tf.float32), [2, 4, 4, 1])
    flipped = augment.random_flip(x, probability=1.0).numpy()
    np.testing.assert_array_equal(flipped, x.numpy()[:, :, ::-1])
    np.testing.assert_array_equal(augment.center_crop(x, 2).numpy(), x.numpy()[:, 1:3, 1:3])
    assert augment.random_crop(x, 3).shape == (2, 3, 3, 1)


def test_face_frames_with_labels(tiny_records):
    ds = face_dataset(str(tiny_records), batch_size=64)
    b = next(iter(ds))
    # Records labelled happy (5 frames), sad (6), angry (8); the unlabelled clip is dropped.
    assert b["image"].shape == (19, 32, 32, 1)
    names = {n.decode() for n in b["label_name"].numpy()}
    assert names == {"happy", "sad", "angry"}
    from lipkeras.preprocess.labels import EMOTIONS

    for i, n in zip(b["label"].numpy(), b["label_name"].numpy()):
        assert EMOTIONS[i] == n.decode()


def test_face_clips_sampled_frames(tiny_records):
    ds = face_dataset(str(tiny_records), batch_size=8, mode="clip", labels=None, frames_per_clip=3, image_size=16)
    b = next(iter(ds))
    assert b["frames"].shape == (4, 3, 16, 16, 1)
    assert set(b["label"].numpy().tolist()) == {-1}
    with pytest.raises(ValueError):
        face_dataset(str(tiny_records), mode="video")


def test_missing_records_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no .tfrecord shards"):
        mouth_dataset(str(tmp_path))


def test_clip_id_filter_from_list_and_file(tiny_records, tmp_path):
    ds = mouth_dataset(str(tiny_records), batch_size=8, clip_ids=["s1/c1", "s1/c3"])
    assert sorted(i.decode() for i in next(iter(ds))["clip_id"].numpy()) == ["s1/c1", "s1/c3"]
    f = tmp_path / "test.txt"
    f.write_text("s1/c0\n\ns1/c2\n")
    ds = mouth_dataset(str(tiny_records), batch_size=8, clip_ids=f)
    assert sorted(i.decode() for i in next(iter(ds))["clip_id"].numpy()) == ["s1/c0", "s1/c2"]
