"""lipkeras: read lips and faces with TensorFlow/Keras.

The package follows the pipeline, one folder per step::

    video ──► preprocess/ ──► records/ ──► layers/ ──► models/ ──► train/ ──► decode ──► evaluate ──► export/serve
              MediaPipe        sharded        (later issues)
              landmarks,       TFRecords,
              warp, crops      tf.data readers

* ``lipkeras.preprocess``: decode any video, resample to 25 fps, MediaPipe Face Landmarker,
  interpolate + smooth landmarks, similarity-warp to a reference face, crop mouth and face
  ROIs, attach transcripts/labels/audio and write sharded TFRecords with a manifest.
* ``lipkeras.records``: the one TFRecord schema, the character vocabulary and the
  ``tf.data`` readers (``mouth_dataset``, ``face_dataset``).
* ``lipkeras.visualize``: contact sheets (PNG) and GIFs of clips.

Command line: ``lipkeras --help`` (``preprocess``, ``inspect``, ``demo``).
"""

__version__ = "0.1.0"
