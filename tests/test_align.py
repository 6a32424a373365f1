import numpy as np

from lipkeras.preprocess import align
from lipkeras.preprocess.config import PreprocessConfig


def test_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(2, 11, 2))
    ang, s, t = 0.3, 2.5, np.array([4.0, -1.0])
    R = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    dst = s * src[0] @ R.T + t
    m = align.similarity(src, dst)
    assert m.shape == (2, 2, 3)
    np.testing.assert_allclose(m[0, :, :2], s * R, atol=1e-9)
    np.testing.assert_allclose(m[0, :, 2], t, atol=1e-9)
    np.testing.assert_allclose(align.apply(m[0], src[0]), dst, atol=1e-9)


def test_roi_transform_puts_the_centre_in_the_middle():
    to_ref = np.tile(np.array([[[0.01, 0, -1.0], [0, 0.01, -0.5]]]), (3, 1, 1))
    centers = np.array([[0.0, 1.0], [0.1, 1.2], [0.0, 1.0]])
    m = align.roi_transforms(to_ref.copy(), centers, side=1.5, size=32)
    src_centre = (centers - to_ref[:, :, 2]) / 0.01  # source pixel of each centre
    out = align.apply(m, src_centre[:, None, :])[:, 0]
    np.testing.assert_allclose(out, 16.0, atol=1e-9)


def test_crop_samples_the_right_pixels_and_antialiases():
    img = np.zeros((200, 200), np.uint8)
    img[95:105, 95:105] = 255  # a bright square centred at (100, 100)
    m = np.array([[[0.25, 0, 16 - 25.0], [0, 0.25, 16 - 25.0]]])  # 4× downscale, (100,100) → (16,16)
    out = align.crop([img], m, 32)
    assert out.shape == (1, 32, 32)
    ys, xs = np.nonzero(out[0] > 40)
    assert abs(xs.mean() - 16) < 1.0 and abs(ys.mean() - 16) < 1.0


def test_reference_face_is_normalised():
    from lipkeras.preprocess import landmarks as lmk

    ref = align.reference_face()
    assert ref.shape == (478, 2)
    r, l = ref[list(lmk.RIGHT_EYE)].mean(0), ref[list(lmk.LEFT_EYE)].mean(0)
    np.testing.assert_allclose(r, [-0.5, 0.0], atol=1e-4)
    np.testing.assert_allclose(l, [0.5, 0.0], atol=1e-4)
    assert 1.0 < ref[list(lmk.LIPS), 1].mean() < 1.5  # the mouth is below the eyes


def test_extract_rois_shapes_and_mouth_centre():
    ref = align.reference_face()
    # A synthetic face: the reference scaled ×50 and shifted, identical in 4 frames.
    pts = np.tile((ref * 50 + [80, 60])[None], (4, 1, 1)).astype(np.float32)
    frames = [np.full((200, 160, 3), 128, np.uint8) for _ in range(4)]
    cfg = PreprocessConfig(mouth_size=32, face_size=40, color="gray")
    out = align.extract_rois(frames, pts, cfg)
    mouth, m_aff = out["mouth"]
    assert mouth.shape == (4, 32, 32, 1) and mouth.dtype == np.uint8
    assert out["face"][0].shape == (4, 40, 40, 1)
    from lipkeras.preprocess import landmarks as lmk

    lips = align.apply(m_aff.astype(np.float64), pts[:, list(lmk.LIPS)]).mean(1)
    np.testing.assert_allclose(lips, 16.0, atol=1e-3)
    assert out["summary"].shape == (4, len(lmk.SUMMARY), 2)
    rgb = align.extract_rois(frames, pts, PreprocessConfig(mouth_size=32, color="rgb", rois=("mouth",)))
    assert rgb["mouth"][0].shape == (4, 32, 32, 3) and "face" not in rgb
