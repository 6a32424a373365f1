"""lipkeras: read lips and faces with TensorFlow/Keras.

The package follows the pipeline, one folder per step::

    video ──► preprocess/ ──► records/ ──► layers/ ──► models/ ──► train/ ──► decode/ ──► evaluate ──► export/ ──► serve/
              MediaPipe        sharded        Keras 3      LipNet,     stages     greedy /    WER, CER    SavedModel   TF Serving
              landmarks,       TFRecords,     layers       FastLip-    lipnet,    beam CTC,   (jiwer),    for TF       REST API
              warp, crops      tf.data        (LPA, WDA,   Reader,     decoder,   attention   accuracy,   Serving,     + :transcribe
                                              decoder…)    cross-      visual,    beam + LM   F1          TFLite
                                                           modal,      integrate, fusion
                                                           EmotionCNN  emotion

* ``lipkeras.preprocess``: decode any video, resample to 25 fps, MediaPipe Face Landmarker,
  interpolate + smooth landmarks, similarity-warp to a reference face, crop mouth and face
  ROIs, attach transcripts/labels/audio and write sharded TFRecords with a manifest.
* ``lipkeras.records``: the one TFRecord schema, the character vocabulary and the
  ``tf.data`` readers (``mouth_dataset``, ``face_dataset``).
* ``lipkeras.layers`` / ``lipkeras.models``: Keras 3 layers (``keras.ops`` only) and the lip
  readers: ``LipNet`` presets, ``FastLipReader``, and the cross-modal reader built piece-wise
  (``CharLanguageModel`` → ``VisualCTCReader`` → ``CrossModalReader``); losses in
  ``lipkeras.models.losses``.
* ``lipkeras.train``: ``python -m lipkeras.train --stage {lipnet,decoder,visual,integrate} ...``.
* ``lipkeras.decode`` (greedy and beam CTC; attention beam search with LM shallow fusion and
  CTC prefix scores), ``lipkeras.metrics`` / ``lipkeras.evaluate`` (WER, CER),
  ``lipkeras.lipreader`` (load a model by name, transcribe raw videos).
* ``lipkeras.emotion`` (by modality: ``face``, …) / ``lipkeras.evaluate_emotion``: emotion models on faces, images
  and videos (``EmotionCNN``, ``--stage emotion``), accuracy/F1 and confusion matrices.
* ``lipkeras.visualize``: contact sheets (PNG), GIFs of clips, confusion-matrix PNGs.
* ``lipkeras.export``: SavedModels in TF Serving's ``NAME/VERSION/`` layout (signatures on
  tensors and on ``tf.Example``s, text decoded in the graph) and TFLite.
* ``lipkeras.serve``: TF Serving's REST API over those SavedModels (+ ``:transcribe``).

Command line: ``lipkeras --help`` (``preprocess``, ``inspect``, ``evaluate``, ``transcribe``, ``emotion``,
``export``, ``serve``, ``demo``).
"""

__version__ = "0.1.0"
