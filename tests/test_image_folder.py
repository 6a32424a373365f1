"""Image-folder faces: label mapping, skipped folders, a reproducible stratified split, tf.data batches."""

import os

import numpy as np
from PIL import Image

from lipkeras.records.image_folder import image_folder_dataset, image_items, leaked, pixel_digest, stratified_split


def _folder(tmp_path):
    root = tmp_path / "faces"
    rng = np.random.default_rng(0)
    for name, n in (("anger", 3), ("Happy", 4), ("surprised", 2), ("bored", 1)):
        (root / name).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (40, 40), dtype=np.uint8)).save(root / name / f"{i}.png")
    return root


def test_labels_are_canonical_and_unknown_folders_reported(tmp_path):
    paths, labels, skipped = image_items(_folder(tmp_path))
    assert sorted(set(labels)) == ["angry", "happy", "surprise"] and len(paths) == 9
    assert len(skipped) == 1 and "bored" in skipped[0].reason


def test_stratified_split_is_per_class_and_seeded():
    labels = ["a"] * 10 + ["b"] * 20 + ["c"] * 2
    train, held = stratified_split(labels, 0.1, seed=3)
    assert len(set(train) & set(held)) == 0 and len(train) + len(held) == 32
    assert [np.asarray(labels)[held].tolist().count(c) for c in "abc"] == [1, 2, 1]
    again = stratified_split(labels, 0.1, seed=3)
    np.testing.assert_array_equal(held, again[1])


def test_dataset_batches(tmp_path):
    paths, labels, _ = image_items(_folder(tmp_path))
    ids = [["angry", "happy", "surprise"].index(x) for x in labels]
    x, y = next(iter(image_folder_dataset(paths, ids, image_size=32, batch_size=4)))
    assert x.shape == (4, 32, 32, 1) and x.dtype.name == "float32" and y.shape == (4,)
    assert 0.0 <= float(np.min(x)) and float(np.max(x)) <= 1.0


def test_exact_copies_of_training_faces_are_left_out_of_validation(tmp_path):
    from lipkeras.train.config import EmotionConfig
    from lipkeras.train.emotion import load_split

    root = tmp_path / "faces"
    rng = np.random.default_rng(1)
    faces = {name: [rng.integers(0, 255, (48, 48), dtype=np.uint8) for _ in range(10)] for name in ("angry", "happy")}
    for name, imgs in faces.items():
        (root / name).mkdir(parents=True)
        for i, img in enumerate(imgs):
            Image.fromarray(img).save(root / name / f"{i}.png")
        # the same pixels in other files: a recompressed PNG and a BMP
        Image.fromarray(imgs[0]).save(root / name / "copy_a.png", compress_level=0)
        Image.fromarray(imgs[1]).save(root / name / "copy_b.bmp")
    a, b = root / "angry" / "0.png", root / "angry" / "copy_a.png"
    assert pixel_digest(a) == pixel_digest(b) != pixel_digest(root / "angry" / "1.png")
    assert leaked([str(a)], [str(root / "happy" / "0.png"), str(b)]).tolist() == [1]

    cfg = EmotionConfig(data=str(root), val_fraction=0.5, seed=0)
    kept_all = load_split(EmotionConfig(data=str(root), val_fraction=0.5, seed=0, drop_leaked_val=False))
    labels, (train, _), (val, val_ids), _, dropped = load_split(cfg)
    assert labels == ("angry", "happy") and len(val) == len(val_ids) == len(kept_all[2][0]) - dropped
    train_digests = {pixel_digest(p) for p in train}
    assert not any(pixel_digest(p) in train_digests for p in val)
    # with this seed some copy falls on the other side of its original: dropped, not scored
    assert dropped > 0 and any(pixel_digest(p) in train_digests for p in kept_all[2][0])


def test_every_image_format_reads_and_unreadable_files_are_skipped_with_reasons(tmp_path):
    import cv2

    root = tmp_path / "faces" / "happy"
    root.mkdir(parents=True)
    face = np.random.default_rng(2).integers(0, 255, (40, 40), dtype=np.uint8)
    cv2.imwrite(str(root / "gray.webp"), face, [cv2.IMWRITE_WEBP_QUALITY, 101])  # lossless; WebP has no gray mode
    cv2.imwrite(str(root / "deep.png"), face.astype(np.uint16) * 257)  # 16-bit
    cv2.imwrite(str(root / "alpha.png"), cv2.cvtColor(face, cv2.COLOR_GRAY2BGRA))
    Image.fromarray(face).save(root / "still.gif")
    Image.fromarray(face).save(root / "plain.png")
    cv2.imwrite(str(root / "gray.tiff"), face)  # JAFFE's format: TF cannot decode it, OpenCV does
    cv2.imwrite(str(root / "deep.tif"), face.astype(np.uint16) * 257)
    (root / "empty.png").write_bytes(b"")
    (root / "cut.png").write_bytes((root / "plain.png").read_bytes()[:40])
    paths, labels, skipped = image_items(tmp_path / "faces")
    assert sorted(s.reason for s in skipped) == ["empty file (0 bytes)", "not a readable image (corrupt or unknown format)"]
    assert sorted(p.rsplit("/", 1)[-1] for p in paths) == ["alpha.png", "deep.png", "deep.tif", "gray.tiff",
                                                           "gray.webp", "plain.png", "still.gif"]
    x, _ = next(iter(image_folder_dataset(paths, [0] * len(paths), image_size=40, batch_size=8)))
    assert x.shape == (7, 40, 40, 1)
    for p, img in zip(paths, x.numpy()):  # the same gray face from every encoding (WebP/GIF: within rounding)
        assert np.abs(img[..., 0] * 255 - face).max() <= 2, p
    rgb, _ = next(iter(image_folder_dataset(paths, [0] * len(paths), image_size=40, channels=3, batch_size=8)))
    assert rgb.shape == (7, 40, 40, 3)
    colour = np.random.default_rng(3).integers(0, 255, (40, 40, 3), dtype=np.uint8)  # RGB
    Image.fromarray(colour).save(tmp_path / "colour.png")
    Image.fromarray(colour).save(tmp_path / "colour.tiff")
    both, _ = next(iter(image_folder_dataset([str(tmp_path / "colour.png"), str(tmp_path / "colour.tiff")], [0, 0],
                                             image_size=40, channels=3)))
    np.testing.assert_allclose(both[1], both[0], atol=1e-6)  # the same channel order
    np.testing.assert_allclose(both[0] * 255, colour, atol=1e-3)


def test_checked_images_are_not_decoded_again_for_their_digest(tmp_path, monkeypatch):
    """Starting a run checks every face (image_items) and then looks for copies (leaked): one decode."""
    from lipkeras.records import image_folder

    root = tmp_path / "faces" / "happy"
    root.mkdir(parents=True)
    img = np.random.default_rng(2).integers(0, 255, (48, 48), dtype=np.uint8)
    Image.fromarray(img).save(root / "a.png")
    Image.fromarray(img).save(root / "b.bmp")
    fresh = pixel_digest(root / "a.png")
    image_folder._DIGESTS.clear()
    paths, _, skipped = image_items(tmp_path / "faces")
    assert len(paths) == 2 and not skipped
    calls = []
    monkeypatch.setattr(image_folder, "_decode", lambda p: calls.append(p))
    assert pixel_digest(root / "a.png") == pixel_digest(root / "b.bmp") == fresh and not calls
    Image.fromarray(255 - img).save(root / "a.png")  # a changed file is decoded again
    os.utime(root / "a.png", ns=(1, 1))  # its new time, whatever the clock's granularity
    assert pixel_digest(root / "a.png") != fresh and len(calls) == 1
