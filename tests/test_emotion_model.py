"""The design's emotion CNN at tiny shapes: mean-face arithmetic, shapes, labels in the config, save/load."""

import numpy as np
import pytest

from lipkeras import _quiet

_quiet.import_tensorflow()
import keras  # noqa: E402

from lipkeras.layers import MeanFaceSubtraction  # noqa: E402
from lipkeras.models import EmotionCNN  # noqa: E402

LABELS = ("angry", "happy", "neutral")


def _fer_folder(shared_data, tmp_path, names, per_class):
    """A small ``<label>/*.png`` folder of the first ``per_class`` real FER2013 faces of each label."""
    import shutil

    root = tmp_path / "fer"
    for name in names:
        (root / name).mkdir(parents=True)
        for f in sorted((shared_data / "fer2013" / "train" / name).glob("*.png"))[:per_class]:
            shutil.copy(f, root / name / f.name)
    return root


def _faces(n=4, size=32, seed=0):
    return np.random.default_rng(seed).random((n, size, size, 1)).astype("float32")


def test_mean_face_layer_arithmetic_and_adapt():
    faces = _faces()
    layer = MeanFaceSubtraction()
    mean = layer.adapt([faces[:3], faces[3:]])
    np.testing.assert_allclose(mean, faces.mean(0), atol=1e-6)
    np.testing.assert_allclose(np.asarray(layer(faces)), faces - faces.mean(0), atol=1e-6)
    assert not layer.trainable_weights and len(layer.non_trainable_weights) == 1
    with pytest.raises(ValueError, match="no faces"):
        MeanFaceSubtraction().adapt([])


def test_emotion_cnn_shapes_labels_and_round_trip(tmp_path):
    model = EmotionCNN(labels=LABELS, input_size=32, filters=(4, 8), kernel_sizes=(5, 3), convs_per_block=1,
                       dense_units=8)
    probs = np.asarray(model(_faces(2)))
    assert probs.shape == (2, 3)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    assert model.labels == LABELS
    model.get_layer("mean_face").set_mean(np.full((32, 32, 1), 0.5, np.float32))
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(again, EmotionCNN) and again.labels == LABELS
    np.testing.assert_allclose(np.asarray(again(_faces(2))), np.asarray(model(_faces(2))), atol=1e-6)
    np.testing.assert_allclose(np.asarray(again.get_layer("mean_face").mean_face), 0.5)
    without = EmotionCNN(labels=LABELS, input_size=32, filters=(4,), kernel_sizes=(3,), mean_face=False)
    assert "mean_face" not in [layer.name for layer in without.layers]


def test_folded_batch_norm_computes_the_same_function():
    model = EmotionCNN(labels=LABELS, input_size=32, filters=(4, 8), kernel_sizes=(5, 3), convs_per_block=2,
                       dense_units=8)
    rng = np.random.default_rng(0)
    for layer in model.layers:  # batch statistics and affine terms far from their initial values
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2, n), rng.normal(0, 1, n), rng.normal(0, 1, n), rng.uniform(0.1, 3, n)])
    model.get_layer("mean_face").set_mean(np.full((32, 32, 1), 0.4, np.float32))
    folded = model.folded()
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    assert folded.count_params() < model.count_params() and folded.labels == LABELS
    x = _faces(4)
    np.testing.assert_allclose(np.asarray(folded.predict_on_batch(x)), np.asarray(model.predict_on_batch(x)), atol=1e-5)
    assert folded.folded() is folded


def test_grow_from_a_narrower_model_computes_the_same_function():
    narrow = EmotionCNN(labels=LABELS, input_size=32, filters=(4, 8), kernel_sizes=(5, 3), convs_per_block=2,
                        dense_units=8)
    rng = np.random.default_rng(1)
    for layer in narrow.layers:  # trained-looking BatchNorm statistics, a mean face
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2, n), rng.normal(0, 1, n), rng.normal(0, 1, n), rng.uniform(0.1, 3, n)])
    narrow.get_layer("mean_face").set_mean(np.full((32, 32, 1), 0.4, np.float32))
    wide = EmotionCNN(labels=LABELS, input_size=32, filters=(6, 12), kernel_sizes=(5, 3), convs_per_block=2,
                      dense_units=16)
    wide.grow_from(narrow)
    x = _faces(4)
    assert wide.count_params() > narrow.count_params()
    np.testing.assert_allclose(np.asarray(wide.predict_on_batch(x)), np.asarray(narrow.predict_on_batch(x)), atol=1e-5)
    with pytest.raises(ValueError, match="wider than this model"):
        narrow.grow_from(wide)
    with pytest.raises(ValueError, match="labels differ"):
        EmotionCNN(labels=LABELS[:2], input_size=32, filters=(6, 12), kernel_sizes=(5, 3)).grow_from(narrow)


def test_shrink_from_keeps_the_strongest_channels():
    """Pruning a wider model whose extra channels are silent (BatchNorm γ = β = 0: ELU(0) = 0 out)
    keeps exactly the live ones, so the narrower model computes the same function."""
    wide = EmotionCNN(labels=LABELS, input_size=32, filters=(6, 12), kernel_sizes=(5, 3), convs_per_block=2,
                      dense_units=16)
    rng = np.random.default_rng(2)
    silent = {}
    for layer in wide.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            gamma = rng.uniform(0.5, 2, n) * rng.choice([-1, 1], n)  # |γ| ranks, whatever the sign
            beta = rng.normal(0, 1, n)
            dead = np.sort(rng.choice(n, n // 3, replace=False))  # scattered, not the last ones
            gamma[dead], beta[dead] = 0.0, 0.0
            silent[layer.name] = dead
            layer.set_weights([gamma, beta, rng.normal(0, 1, n), rng.uniform(0.1, 3, n)])
    wide.get_layer("mean_face").set_mean(np.full((32, 32, 1), 0.4, np.float32))
    narrow = EmotionCNN(labels=LABELS, input_size=32, filters=(4, 8), kernel_sizes=(5, 3), convs_per_block=2,
                        dense_units=11)
    assert narrow.resize_from(wide) == "shrunk"
    x = _faces(4)
    np.testing.assert_allclose(np.asarray(narrow.predict_on_batch(x)), np.asarray(wide.predict_on_batch(x)), atol=1e-5)
    live = np.setdiff1d(np.arange(6), silent["block1_bn1"])
    np.testing.assert_array_equal(np.asarray(narrow.get_layer("block1_conv1").kernel),
                                  np.asarray(wide.get_layer("block1_conv1").kernel)[..., live])
    np.testing.assert_allclose(np.asarray(narrow.get_layer("mean_face").mean_face), 0.4)
    with pytest.raises(ValueError, match="narrower than this model"):
        wide.shrink_from(narrow)
    mixed = EmotionCNN(labels=LABELS, input_size=32, filters=(8, 8), kernel_sizes=(5, 3), convs_per_block=2,
                       dense_units=16)
    with pytest.raises(ValueError, match="wider than this model"):
        mixed.resize_from(wide)


def test_distillation_targets_and_a_pruned_student(shared_data, tmp_path):
    """``--distill-from``: the teacher's probabilities (cached in the run) blended with the one-hot
    labels are the training targets; a narrower ``--init-from`` starts as the pruned teacher."""
    from lipkeras.train.config import EmotionConfig
    from lipkeras.train.emotion import distilled_targets, load_split, train

    root = _fer_folder(shared_data, tmp_path, LABELS, 8)
    teacher = EmotionCNN(labels=LABELS, input_size=48, filters=(8, 16), kernel_sizes=(3, 3), dense_units=8)
    teacher.save(tmp_path / "teacher.keras")
    cfg = EmotionConfig(data=str(root), out=str(tmp_path / "student"), epochs=1, batch_size=8, filters="6,12",
                        kernel_sizes="3,3", dense_units=8, distill_from=str(tmp_path / "teacher.keras"),
                        distill_views=2, distill_weight=0.6, init_from=str(tmp_path / "teacher.keras"))
    summary = train(cfg)
    assert summary["epochs_run"] == 1 and summary["parameters"] < teacher.count_params()
    cache = np.load(tmp_path / "student" / "teacher_probs.npz")
    labels, (paths, ids), _, _, _ = load_split(cfg)
    assert cache["probs"].shape == (len(paths), 3)
    expected = np.asarray(teacher.with_views(2).predict_on_batch(
        np.stack([keras.utils.img_to_array(keras.utils.load_img(p, color_mode="grayscale")) / 255.0 for p in paths])))
    np.testing.assert_allclose(cache["probs"], expected, atol=1e-4)
    targets = distilled_targets(cfg, labels, paths, ids, tmp_path / "student")  # from the cache
    np.testing.assert_allclose(targets, 0.6 * cache["probs"] + 0.4 * np.eye(3)[ids], atol=1e-6)
    np.testing.assert_allclose(targets.sum(1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="distill_weight must lie"):
        EmotionConfig(distill_weight=1.5)


def test_online_distillation_scores_each_augmented_batch(shared_data, tmp_path):
    """``--distill-online``: the targets of a batch are the teacher's probabilities of those very
    (augmented) faces, softened and blended with the one-hot labels; a run trains on them."""
    import tensorflow as tf

    from lipkeras.train.config import EmotionConfig
    from lipkeras.train.emotion import online_targets, train

    teacher = EmotionCNN(labels=LABELS, input_size=32, filters=(4, 8), kernel_sizes=(3, 3), dense_units=8)
    teacher.save(tmp_path / "teacher.keras")
    cfg = EmotionConfig(distill_from=str(tmp_path / "teacher.keras"), distill_online=True, distill_views=1,
                        distill_weight=0.6, distill_temperature=2.0)
    faces, ids = tf.constant(_faces(4)), tf.constant([0, 2, 1, 1], tf.int64)
    same, targets = online_targets(cfg, LABELS)(faces, ids)
    probs = np.sqrt(np.asarray(teacher.predict_on_batch(_faces(4))))  # T = 2: p^(1/2), renormalised
    probs /= probs.sum(1, keepdims=True)
    np.testing.assert_array_equal(np.asarray(same), _faces(4))
    np.testing.assert_allclose(np.asarray(targets), 0.6 * probs + 0.4 * np.eye(3)[[0, 2, 1, 1]], atol=1e-5)

    root = _fer_folder(shared_data, tmp_path, LABELS, 6)
    big = EmotionCNN(labels=LABELS, input_size=48, filters=(8, 16), kernel_sizes=(3, 3), dense_units=8)
    big.save(tmp_path / "big.keras")
    summary = train(EmotionConfig(data=str(root), out=str(tmp_path / "run"), epochs=1, batch_size=8, filters="6,12",
                                  kernel_sizes="3,3", dense_units=8, distill_from=str(tmp_path / "big.keras"),
                                  distill_online=True, distill_views=2))
    assert summary["epochs_run"] == 1 and not (tmp_path / "run" / "teacher_probs.npz").exists()


def test_an_ensemble_of_teachers_averages_their_probabilities(tmp_path):
    """``--distill-from A,B``: one teacher whose probabilities are the mean of A's and B's; a teacher
    trained on other labels is refused, naming its file."""
    import tensorflow as tf

    from lipkeras.train.config import EmotionConfig
    from lipkeras.train.emotion import online_targets, teacher_paths

    a = EmotionCNN(labels=LABELS, input_size=32, filters=(4, 8), kernel_sizes=(3, 3), dense_units=8)
    b = EmotionCNN(labels=LABELS, input_size=32, filters=(6, 4), kernel_sizes=(5, 3), dense_units=4, mean_face=False)
    a.save(tmp_path / "a.keras")
    b.save(tmp_path / "b.keras")
    cfg = EmotionConfig(distill_from=f"{tmp_path / 'a.keras'}, {tmp_path / 'b.keras'}", distill_online=True,
                        distill_views=1, distill_weight=1.0)
    assert teacher_paths(cfg) == [str(tmp_path / "a.keras"), str(tmp_path / "b.keras")]
    _, targets = online_targets(cfg, LABELS)(tf.constant(_faces(4)), tf.constant([0, 1, 2, 0], tf.int64))
    mean = (np.asarray(a.predict_on_batch(_faces(4))) + np.asarray(b.predict_on_batch(_faces(4)))) / 2
    np.testing.assert_allclose(np.asarray(targets), mean, atol=1e-5)
    EmotionCNN(labels=("happy", "sad", "angry"), input_size=32, filters=(4, 4), kernel_sizes=(3, 3),
               dense_units=4).save(tmp_path / "other.keras")
    with pytest.raises(ValueError, match="other.keras: teacher labels"):
        online_targets(EmotionConfig(distill_from=f"{tmp_path / 'a.keras'},{tmp_path / 'other.keras'}"), LABELS)


def test_inference_is_deterministic():
    model = EmotionCNN(labels=LABELS, input_size=32, filters=(4, 8), kernel_sizes=(5, 3), convs_per_block=1)
    x = _faces(3)
    np.testing.assert_array_equal(np.asarray(model.predict_on_batch(x)), np.asarray(model.predict_on_batch(x)))


def test_emotion_stage_trains_on_real_fer_faces(shared_data, tmp_path):
    """Two tiny epochs on 3 classes × 12 real FER2013 faces: checkpoints, curves, split and labels saved."""
    import json

    from lipkeras.train.config import EmotionConfig
    from lipkeras.train.emotion import train

    root = _fer_folder(shared_data, tmp_path, ("angry", "happy", "neutral"), 12)
    out = tmp_path / "run"
    summary = train(EmotionConfig(data=str(root), out=str(out), epochs=2, batch_size=8, convs_per_block=1,
                                  dense_units=16))
    assert summary["labels"] == ["angry", "happy", "neutral"] and summary["epochs_run"] == 2
    assert summary["val_faces"] == 3 and summary["train_faces"] == 33
    for f in ("best.keras", "last.keras", "history.csv", "curves.png", "split.json", "summary.json"):
        assert (out / f).exists(), f
    model = keras.saving.load_model(out / "best.keras")
    assert model.labels == ("angry", "happy", "neutral")
    mean = np.asarray(model.get_layer("mean_face").mean_face)
    assert mean.shape == (48, 48, 1) and 0.2 < mean.mean() < 0.8  # set from the faces, not zeros
    assert len(json.loads((out / "split.json").read_text())["val"]) == 3
    # Continue from it with other dropout rates: the first epoch starts from its weights.
    more = train(EmotionConfig(data=str(root), out=str(tmp_path / "more"), epochs=1, batch_size=8, convs_per_block=1,
                               dense_units=16, dropout=0.1, learning_rate=1e-9, init_from=str(out / "best.keras")))
    cont = keras.saving.load_model(tmp_path / "more" / "best.keras")
    for a, b in zip(cont.trainable_weights, model.trainable_weights):  # (BN statistics move in training)
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
    assert more["epochs_run"] == 1
    with pytest.raises(ValueError, match="cannot resize from .*convs_per_block differ"):
        train(EmotionConfig(data=str(root), out=str(tmp_path / "other"), epochs=1, batch_size=8, dense_units=16,
                            init_from=str(out / "best.keras")))
    # Grow it into a wider model, training in bfloat16: the old weights fill the first channels.
    wide = train(EmotionConfig(data=str(root), out=str(tmp_path / "wide"), epochs=1, batch_size=8, convs_per_block=1,
                               dense_units=24, filters="40,64,128,256", learning_rate=1e-9,
                               precision="bfloat16", init_from=str(out / "best.keras")))
    assert keras.config.dtype_policy().name == "float32"  # the policy is restored after the run
    grown = keras.saving.load_model(tmp_path / "wide" / "best.keras")
    assert grown.get_layer("block1_conv1").compute_dtype == "float32"  # loads in float32 wherever used
    assert wide["parameters"] > summary["parameters"] == model.count_params()
    np.testing.assert_allclose(np.asarray(grown.get_layer("block1_conv1").kernel)[..., :32],
                               np.asarray(model.get_layer("block1_conv1").kernel), atol=1e-5)
    np.testing.assert_allclose(np.asarray(grown.get_layer("probabilities").kernel)[:16],
                               np.asarray(model.get_layer("probabilities").kernel), atol=1e-5)


def test_vgg_like_kernels_and_cosine_schedule(shared_data, tmp_path):
    """``--kernel-sizes`` sets every block's kernel; ``--lr-schedule cosine`` ends at the minimum rate."""
    from lipkeras.train.config import EmotionConfig
    from lipkeras.train.emotion import train

    root = _fer_folder(shared_data, tmp_path, ("happy", "sad"), 10)
    summary = train(EmotionConfig(data=str(root), out=str(tmp_path / "run"), epochs=2, batch_size=8, filters="8,16",
                                  kernel_sizes="3,3", dense_units=8, lr_schedule="cosine", warmup_epochs=1,
                                  learning_rate=1e-3, min_learning_rate=1e-5, weight_decay=1e-2, mixup=0.4))
    model = keras.saving.load_model(tmp_path / "run" / "last.keras")  # trained on mixup's soft targets
    assert model.get_layer("block1_conv1").kernel.shape == (3, 3, 1, 8)
    assert model.get_config()["kernel_sizes"] == (3, 3)
    assert summary["final_learning_rate"] == pytest.approx(1e-5, rel=1e-3)
    with pytest.raises(ValueError, match="one kernel size per block"):
        EmotionConfig(filters="8,16", kernel_sizes="3")
    with pytest.raises(ValueError, match="lr_schedule must be"):
        EmotionConfig(lr_schedule="step")


def test_tuner_two_tiny_trials_then_train_from_them(shared_data, tmp_path):
    import json

    from lipkeras.train.config import EmotionConfig
    from lipkeras.train.emotion import train

    root = _fer_folder(shared_data, tmp_path, ("happy", "sad"), 10)
    tuned = train(EmotionConfig(data=str(root), out=str(tmp_path / "tune"), tune=2, tune_epochs=1, batch_size=8,
                                convs_per_block=1))
    assert tuned["tuner_trials"] == 2 and len(tuned["trials"]) == 2
    best = json.loads((tmp_path / "tune" / "best_hyperparameters.json").read_text())
    assert {"filters", "dropout", "dense_units", "learning_rate", "mean_face"} <= set(best)
    final = train(EmotionConfig(data=str(root), out=str(tmp_path / "final"), from_tuner=str(tmp_path / "tune"),
                                epochs=1, batch_size=8, convs_per_block=1))
    assert final["epochs_run"] == 1
    saved = json.loads((tmp_path / "final" / "config.json").read_text())
    assert saved["filters"] == best["filters"] and saved["learning_rate"] == best["learning_rate"]


def test_emotion_stage_trains_on_ravdess_face_records_with_actor_splits(grid_sample, tmp_path):
    """RAVDESS-named videos (real GRID faces) → face records split by actor (19-20 val, 21-24 test
    by default) → one tiny epoch with frames sampled per clip; then frame/video-level evaluation."""
    import json
    import shutil

    from lipkeras.emotion import EmotionReader
    from lipkeras.evaluate_emotion import evaluate_emotion
    from lipkeras.preprocess import PreprocessConfig, run
    from lipkeras.train.config import EmotionConfig
    from lipkeras.train.emotion import train

    clips = sorted((grid_sample / "s1").glob("*.mp4"))
    videos = {"Actor_01/01-01-03-01-01-01-01.mp4": clips[0], "Actor_01/01-01-04-01-01-01-01.mp4": clips[1],
              "Actor_02/01-01-03-02-02-01-02.mp4": clips[2], "Actor_02/01-01-04-02-02-01-02.mp4": clips[3],
              "Actor_19/01-01-03-01-01-02-19.mp4": clips[4], "Actor_20/01-01-04-01-01-02-20.mp4": clips[5],
              "Actor_21/01-01-03-01-02-01-21.mp4": clips[6]}
    for name, clip in videos.items():
        (tmp_path / "ravdess" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(clip, tmp_path / "ravdess" / name)
    manifest = run(tmp_path / "ravdess", tmp_path / "rec", PreprocessConfig(dataset="ravdess", rois=("face",),
                                                                            workers=1), progress=False)
    assert manifest["splits"] == {"test": 1, "train": 4, "val": 2}
    out = tmp_path / "run"
    summary = train(EmotionConfig(data=str(tmp_path / "rec"), out=str(out), epochs=1, batch_size=8,
                                  convs_per_block=1, dense_units=16, filters="8,16", frames_per_clip=6))
    assert summary["labels"] == ["happy", "sad"] and summary["train_clips"] == 4 and summary["val_clips"] == 2
    assert summary["train_faces"] == 4 * 6 and summary["val_faces"] == 2 * 6  # frames_per_clip faces per clip
    assert json.loads((out / "split.json").read_text())["clips"] == {"test": 1, "train": 4, "val": 2}
    metrics = evaluate_emotion(EmotionReader(str(out / "best.keras")), str(tmp_path / "rec"), split="test")
    assert metrics["frame"]["samples"] == 32 and metrics["video"]["samples"] == 1  # 32 frames sampled per clip


def test_bfloat16_copy_computes_in_bfloat16_with_the_same_weights():
    from lipkeras.emotion import _rebuilt, with_precision

    model = EmotionCNN(labels=LABELS, input_size=32, filters=(8, 16), kernel_sizes=(5, 3), dense_units=16)
    fast = with_precision(model, "bfloat16")
    assert fast.get_layer("block1_conv1").compute_dtype == "bfloat16"
    assert model.get_layer("block1_conv1").compute_dtype == "float32"  # the original is untouched
    assert keras.config.dtype_policy().name == "float32"  # and so is the global policy
    x = _faces(4, 32)
    y32, y16 = np.asarray(model.predict_on_batch(x)), np.asarray(fast.predict_on_batch(x))
    assert y16.dtype == np.float32 and np.allclose(y16.sum(-1), 1.0, atol=1e-3)
    np.testing.assert_allclose(y16, y32, atol=0.05)
    with pytest.raises(ValueError, match="precision"):
        with_precision(model, "float8")
    # weights stored in bfloat16 compute exactly what mixed precision computes from float32 weights
    assert fast.get_layer("block1_conv1").kernel.dtype == "bfloat16"
    mixed = _rebuilt(model, "mixed_bfloat16")
    np.testing.assert_array_equal(np.asarray(mixed.predict_on_batch(x)), y16)


def test_ship_stores_half_precision_weights_that_load_as_float32(tmp_path):
    import json

    from lipkeras.emotion import ship

    model = EmotionCNN(labels=LABELS, input_size=32, filters=(8, 16), kernel_sizes=(5, 3), dense_units=16)
    x = _faces(4, 32)
    model.save(tmp_path / "run.keras")
    shipped = ship(tmp_path / "run.keras", tmp_path / "tiny_fer", weights_dtype="float16")
    loaded = keras.saving.load_model(shipped, compile=False)
    assert {w.dtype for w in loaded.weights} == {"float32"}
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)  # float16 rounding, nothing else
    np.testing.assert_allclose(np.asarray(loaded.predict_on_batch(x)), np.asarray(model.predict_on_batch(x)),
                               atol=1e-3)
    meta = json.loads((tmp_path / "tiny_fer" / "lipkeras.json").read_text())
    assert meta["labels"] == list(LABELS) and meta["input_size"] == 32
    with pytest.raises(ValueError, match="weights_dtype"):
        ship(tmp_path / "run.keras", tmp_path / "other", weights_dtype="int8")


def test_augmentation_stays_float32_when_training_in_bfloat16():
    import tensorflow as tf

    from lipkeras.train.config import EmotionConfig
    from lipkeras.train.emotion import make_augment

    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        augment = make_augment(EmotionConfig(precision="bfloat16"))
    finally:
        keras.config.set_dtype_policy("float32")
    out = augment(tf.constant(_faces(2, 48)))
    assert out.dtype == tf.float32 and out.shape == (2, 48, 48, 1)
    assert 0.0 <= float(tf.reduce_min(out)) and float(tf.reduce_max(out)) <= 1.0


def test_sparse_cross_entropy_smooths_labels_like_the_categorical_loss():
    from lipkeras.models.losses import SparseCrossEntropy

    probs = keras.ops.softmax(np.random.default_rng(1).normal(size=(2, 3)).astype("float32"))
    ids = np.array([2, 0])
    plain = keras.losses.sparse_categorical_crossentropy(ids, probs)
    np.testing.assert_allclose(SparseCrossEntropy()(ids, probs), np.mean(plain), rtol=1e-5)
    smoothed = keras.losses.categorical_crossentropy(np.eye(3)[ids], probs, label_smoothing=0.1)
    loss = SparseCrossEntropy(0.1)
    np.testing.assert_allclose(loss(ids, probs), np.mean(smoothed), rtol=1e-5)
    np.testing.assert_allclose(loss(ids[:, None], probs), loss(ids, probs), rtol=1e-6)  # [B, 1] ids as tf.data gives
    again = SparseCrossEntropy.from_config(loss.get_config())
    assert again.label_smoothing == 0.1 and float(again(ids, probs)) == pytest.approx(float(loss(ids, probs)))


def test_mixup_blends_faces_and_their_targets_alike():
    import tensorflow as tf

    from lipkeras.models.losses import SparseCrossEntropy, label_accuracy
    from lipkeras.train.emotion import make_mixup

    values = np.linspace(0.1, 0.9, 8).astype("float32")  # face i is flat at values[i], label i % 4
    faces = np.ones((8, 6, 6, 1), "float32") * values[:, None, None, None]
    ids = np.arange(8) % 4
    x, t = make_mixup(0.4, 4, seed=5)(tf.constant(faces), tf.constant(ids))
    x, t = x.numpy(), t.numpy()
    assert x.shape == faces.shape and t.shape == (8, 4)
    np.testing.assert_allclose(t.sum(-1), 1.0, rtol=1e-6)
    assert np.ptp(x, axis=(1, 2, 3)).max() < 1e-6  # each face a blend of two whole faces
    def blend_of(i, j):  # face i = λ·v_i + (1-λ)·v_j with target λ·e(label i) + (1-λ)·e(label j), some λ in [0, 1]
        if j == i:
            return np.isclose(x[i, 0, 0, 0], values[i], atol=1e-5) and t[i, ids[i]] == pytest.approx(1.0)
        lam = (x[i, 0, 0, 0] - values[j]) / (values[i] - values[j])
        target = lam * np.eye(4)[ids[i]] + (1 - lam) * np.eye(4)[ids[j]]
        return -1e-4 <= lam <= 1 + 1e-4 and np.allclose(t[i], target, atol=1e-4)

    assert all(any(blend_of(i, j) for j in range(8)) for i in range(8))
    assert not np.allclose(x, faces)  # some faces were mixed
    # the loss takes the soft targets (categorical cross-entropy) and the ids alike; so does the metric
    probs = keras.ops.softmax(np.random.default_rng(2).normal(size=(8, 4)).astype("float32"))
    np.testing.assert_allclose(SparseCrossEntropy()(t, probs),
                               np.mean(keras.losses.categorical_crossentropy(t, probs)), rtol=1e-5)
    np.testing.assert_allclose(SparseCrossEntropy()(np.eye(4)[ids], probs), SparseCrossEntropy()(ids, probs),
                               rtol=1e-5)
    predicted = np.argmax(np.asarray(probs), -1)
    np.testing.assert_array_equal(label_accuracy(ids, probs), predicted == ids)
    np.testing.assert_array_equal(label_accuracy(t, probs), predicted == t.argmax(-1))


def test_translation_shifts_training_faces():
    import tensorflow as tf

    from lipkeras.train.config import EmotionConfig
    from lipkeras.train.emotion import make_augment

    cfg = EmotionConfig(translation=0.25, rotation=0, zoom=0, contrast=0, cutout=0)
    faces = np.zeros((8, 32, 32, 1), "float32")
    faces[:, 12:20, 12:20] = 1.0  # a centred square: a flip leaves it in place, only a shift moves it
    out = make_augment(cfg, seed=3)(tf.constant(faces)).numpy()
    assert out.shape == faces.shape
    moved = [not np.allclose(o, f) for o, f in zip(out, faces)]
    assert sum(moved) >= 4
    ys, xs = np.nonzero(out[moved.index(True), ..., 0] > 0.5)
    assert abs(ys.mean() - 15.5) + abs(xs.mean() - 15.5) > 1  # the square's centre moved
    assert np.all(make_augment(EmotionConfig(rotation=0, zoom=0, contrast=0, cutout=0), seed=3)(
        tf.constant(faces)).numpy() == faces)  # translation 0 (the default): no shift


def test_face_views_shift_and_mirror_then_average():
    from lipkeras.layers import FaceViews, ViewAverage

    x = _faces(2, 8)
    views = np.asarray(FaceViews(10, shift=2)(x))
    assert views.shape == (20, 8, 8, 1)
    v = views.reshape(10, 2, 8, 8, 1)
    np.testing.assert_array_equal(v[0], x)
    np.testing.assert_array_equal(v[1][:, :6], x[:, 2:])  # shifted up 2 pixels ...
    np.testing.assert_array_equal(v[1][:, 6:], np.repeat(x[:, 7:], 2, axis=1))  # ... the bottom row repeated
    np.testing.assert_array_equal(v[4][:, :, 2:], x[:, :, :6])  # shifted right
    for i in range(5):
        np.testing.assert_array_equal(v[5 + i], v[i][:, :, ::-1])  # then every view mirrored
    np.testing.assert_array_equal(np.asarray(FaceViews(2)(x)).reshape(2, 2, 8, 8, 1)[1], x[:, :, ::-1])
    np.testing.assert_array_equal(np.asarray(FaceViews(10)(x, training=True)), x)  # training: tf.data augments
    probs = np.random.default_rng(2).random((20, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(ViewAverage(10)(probs)), probs.reshape(10, 2, 3).mean(0), rtol=1e-6)
    again = FaceViews.from_config(FaceViews(5, shift=3).get_config())
    assert (again.views, again.shift) == (5, 3) and ViewAverage.from_config(ViewAverage(5).get_config()).views == 5
    with pytest.raises(ValueError, match="views"):
        FaceViews(3)


def test_test_time_views_average_the_model_over_shifted_and_mirrored_faces(tmp_path):
    import json

    from lipkeras.emotion import EmotionReader, for_inference, ship

    model = EmotionCNN(labels=LABELS, input_size=32, filters=(8, 16), kernel_sizes=(5, 3), dense_units=16)
    x = _faces(2, 32)
    ten = for_inference(model, views=10)
    assert ten.get_config()["test_time_views"] == 10 and model.get_config()["test_time_views"] == 1

    def shifted(a, dy, dx):  # edge-padded translation
        return np.pad(a, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="edge")[:, 2 - dy:34 - dy, 2 - dx:34 - dx]

    faces = [x] + [shifted(x, dy, dx) for dy, dx in ((-2, 0), (2, 0), (0, -2), (0, 2))]
    faces += [f[:, :, ::-1] for f in faces]
    expected = np.mean([np.asarray(model.predict_on_batch(f)) for f in faces], axis=0)
    np.testing.assert_allclose(np.asarray(ten.predict_on_batch(x)), expected, atol=1e-5)
    ten.save(tmp_path / "ten.keras")
    np.testing.assert_allclose(np.asarray(keras.saving.load_model(tmp_path / "ten.keras").predict_on_batch(x)),
                               expected, atol=1e-5)
    # a shipped model names its views; the reader takes them unless told otherwise
    model.save(tmp_path / "run.keras")
    ship(tmp_path / "run.keras", tmp_path / "tiny_fer", views=2)
    assert json.loads((tmp_path / "tiny_fer" / "lipkeras.json").read_text())["views"] == 2
    reader = EmotionReader(str(tmp_path / "tiny_fer" / "model.keras"))
    assert reader.views == 2
    expected_two = np.mean([np.asarray(model.predict_on_batch(f)) for f in (x, x[:, :, ::-1])], axis=0)
    np.testing.assert_allclose(reader.predict_faces(x), expected_two, atol=1e-5)
    # a clip's frames: one view each unless the model names "video_views" (they already average)
    assert reader.video_views == 1
    single = np.asarray(model.predict_on_batch(x))
    np.testing.assert_allclose(list(reader.classify_faces(x)["probs"].values()), single.mean(0), atol=1e-4)
    told = EmotionReader(str(tmp_path / "tiny_fer" / "model.keras"), views=1)
    assert (told.views, told.video_views) == (1, 1)
    assert not np.allclose(expected_two, np.asarray(model.predict_on_batch(x)))
