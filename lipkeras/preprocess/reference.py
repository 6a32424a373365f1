"""Build the reference face (``lipkeras/assets/reference_face.npy``) from videos.

Generalised Procrustes over the stable landmarks of frontal frames, then a final
similarity puts the eye centres at (-0.5, 0) and (0.5, 0)::

    python -m lipkeras.preprocess.reference OUT.npy VIDEO [VIDEO ...]
"""

from __future__ import annotations

import sys

import numpy as np

from lipkeras.preprocess import landmarks as lmk
from lipkeras.preprocess import video as vid


# Face-mesh points on the face's vertical midline (their own mirror images).
MIDLINE = (0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 94, 151, 152, 164, 168, 175, 195, 197, 199, 200)


def eye_centers(shape: np.ndarray) -> np.ndarray:
    return np.stack([shape[list(lmk.RIGHT_EYE)].mean(0), shape[list(lmk.LEFT_EYE)].mean(0)])


def symmetrize(shape: np.ndarray) -> np.ndarray:
    """Average a shape with its mirror image, so the reference face looks straight ahead.

    The mesh's left/right pairs are found as nearest neighbours of the mirrored points.
    """
    from lipkeras.preprocess.align import apply, similarity

    axis = eye_centers(shape)
    m = similarity(axis[None], np.array([[-1.0, 0.0], [1.0, 0.0]]))[0]  # eyes on the x axis
    c = apply(m, shape)
    for _ in range(3):  # re-pair on the more symmetric shape each time
        mirrored = c * np.array([-1.0, 1.0])
        pair = np.argmin(((c[:, None, :] - mirrored[None, :, :]) ** 2).sum(-1), axis=1)
        pair[list(MIDLINE)] = list(MIDLINE)
        c = (c + mirrored[pair]) / 2.0
    return c


def build(shapes: np.ndarray, iterations: int = 5) -> np.ndarray:
    from lipkeras.preprocess.align import apply, similarity

    idx = list(lmk.STABLE)
    mean = shapes[0]
    for _ in range(iterations):
        m = similarity(shapes[:, idx], mean[idx])
        mean = apply(m, shapes).mean(0)
    mean = symmetrize(mean)
    # Normalise: eye centres to (-0.5, 0) and (0.5, 0).
    target = np.array([[-0.5, 0.0], [0.5, 0.0]])
    m = similarity(eye_centers(mean)[None], target)[0]
    return apply(m, mean).astype(np.float32)


def main(argv: list[str]) -> None:
    out, videos = argv[0], argv[1:]
    shapes = []
    for path in videos:
        decoded = vid.decode(path)
        frames = decoded.frames[:: max(1, len(decoded.frames) // 5)]
        with lmk.FaceLandmarker(video=False, max_faces=1) as lm:
            for f in frames:
                pts = lm.detect(f)
                if pts is not None:
                    shapes.append(pts)
    ref = build(np.stack(shapes))
    np.save(out, ref)
    print(f"{out}: reference from {len(shapes)} faces of {len(videos)} videos")


if __name__ == "__main__":
    main(sys.argv[1:])
