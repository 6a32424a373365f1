"""The deep parts of ``benchmarks/av_emotion.py`` (``--parts deep,fusion``): speech stream, face
stream and their BEL / MoBEL fusions, measured. Run through ``benchmarks/av_emotion.py``; alone it
works too:

    python benchmarks/av_emotion.py [--parts deep,fusion] [--speech-model speech_emotion]
                                    [--face-model fer_emotion] [--av-model av_emotion]
                                    [--out benchmarks/results/av_emotion.json]

Parts (a registry: each part writes only its own key of the results JSON, so parts run by
different people or at different times do not overwrite each other):

* ``deep``: the shipped deep AV model (``saved_models/av_emotion``) and its two streams on the 6
  real audio-visual CREMA-D clips (``cremad_sample/1001_DFA_*.flv``: MediaPipe faces + their audio,
  ``AVEmotionReader``): per-clip labels of each stream and fused, and how many are right.
* ``fusion``: on **label-matched test pairs** (a RAVDESS utterance of test actors 17–20 with a FER
  *validation* face of the same emotion, a calm utterance with a neutral face; as ``--stage
  av-emotion --data pairs`` builds them, seed 2), the accuracy of each single stream and of the
  fusions: BEL learned (the shipped model's fitted per-class weights), BEL product, BEL mean (equal
  weights), and MoBEL (its fusion network fitted here on the training pairs, actors 01–14 + FER
  training faces, validated on actors 15–16, over the frozen streams' embeddings). A FER face is a
  still image: its 12 key frames are 12 copies, so the pooled face stream is the face model on it.

The speech stream is ``--speech-model`` when it exists (``speech_emotion``); otherwise the stand-in
the shipped AV model was built with (its ``lipkeras.json`` names it), and the output says so.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "data"


def _load_results(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _write_part(path: Path, part: str, result: dict) -> None:
    """Update only ``part``'s key of the results file (re-read just before the atomic write)."""
    from lipkeras.records.io import write_json_atomic

    data = _load_results(path)
    data[part] = result
    write_json_atomic(path, data)


def _streams(args):
    """``(speech model, its labels, face model, its labels, AV model or None, note)``."""
    import keras

    import lipkeras.models  # noqa: F401
    from lipkeras.lipreader import resolve

    av = None
    try:
        av_path = resolve(args.av_model)
        av = keras.saving.load_model(av_path, compile=False)
        av_meta = json.loads((av_path.parent / "lipkeras.json").read_text())
    except FileNotFoundError:
        av_meta = {}
    try:
        speech_path = resolve(args.speech_model)
        note = f"speech stream: {args.speech_model}"
        speech = keras.saving.load_model(speech_path, compile=False)
        meta_file = speech_path.parent / "lipkeras.json"
        s_labels = tuple(getattr(speech, "labels", None) or json.loads(meta_file.read_text())["labels"])
    except FileNotFoundError:
        if av is None:
            raise
        speech, s_labels = av._stream_models[0], tuple(av.config["speech_labels"])  # the one inside the AV model
        note = (f"speech stream: the STAND-IN inside {args.av_model} ({av_meta.get('speech_model')}; "
                f"{args.speech_model} is not there yet): re-run after it is merged")
    face = keras.saving.load_model(resolve(args.face_model), compile=False)
    face = face.folded() if hasattr(face, "folded") else face
    return speech, s_labels, face, tuple(face.labels), av, note


def _two(model, name):
    import keras

    from lipkeras.models.av_emotion import _embedding_output

    return keras.Model(model.input, [_embedding_output(model), model.outputs[0]], name=name)


def _pair_features(cfg, part, labels, speech2, face2, size, channels):
    from lipkeras.train.av_emotion import pair_examples

    ex = pair_examples(cfg, part, labels, size, channels)
    s_emb, s_probs, f_emb, f_probs = [], [], [], []
    for i in range(0, len(ex["label"]), 32):
        e, p = speech2.predict_on_batch({"waveform": ex["waveform"][i:i + 32], "lengths": ex["lengths"][i:i + 32]})
        s_emb.append(np.asarray(e)), s_probs.append(np.asarray(p))
    faces = ex["faces"][:, 0].astype(np.float32) / 255.0
    for i in range(0, len(faces), 256):
        e, p = face2.predict_on_batch(faces[i:i + 256])
        f_emb.append(np.asarray(e)), f_probs.append(np.asarray(p))
    return {"y": ex["label"], "speech_emb": np.concatenate(s_emb), "speech": np.concatenate(s_probs),
            "face_emb": np.concatenate(f_emb), "face": np.concatenate(f_probs)}


def part_fusion(args) -> dict:
    import keras

    from lipkeras.layers.emotion_fusion import BELDecisionFusion, LabelAlignment, MoBELFusion
    from lipkeras.models.av_emotion import fused_labels
    from lipkeras.train.av_emotion import audio_window
    from lipkeras.train.config import AVEmotionConfig

    speech, s_labels, face, f_labels, av, note = _streams(args)
    print(note, flush=True)
    labels = tuple(av.labels) if av is not None else fused_labels(s_labels, f_labels)
    cfg = audio_window(AVEmotionConfig(speech_model=args.speech_model, speech_data=str(SHARED / "ravdess_speech"),
                                       face_data=str(SHARED / "fer2013" / "train")))
    print(f"audio: the centred {cfg.max_seconds:g} s window of each utterance", flush=True)
    _, size, _, channels = face.input_shape
    speech2, face2 = _two(speech, "speech2"), _two(face, "face2")
    t0 = time.perf_counter()
    data = {p: _pair_features(cfg, p, labels, speech2, face2, size, channels) for p in ("train", "val", "test")}
    print(f"stream outputs of {sum(len(d['y']) for d in data.values())} pairs in {time.perf_counter() - t0:.0f} s",
          flush=True)
    align_s, align_f = LabelAlignment(s_labels, labels), LabelAlignment(f_labels, labels)
    cov = [align_s.coverage, align_f.coverage]
    for d in data.values():
        d["speech_a"], d["face_a"] = np.asarray(align_s(d["speech"])), np.asarray(align_f(d["face"]))
    test = data["test"]

    def acc(p):
        return round(float((np.argmax(p, -1) == test["y"]).mean()), 4)

    rows = {"speech only": acc(test["speech_a"]), "face only": acc(test["face_a"])}
    for mode in ("product", "mean"):
        rows[f"BEL {mode}"] = acc(np.asarray(BELDecisionFusion(len(labels), 2, mode, cov)([test["speech_a"],
                                                                                            test["face_a"]])))
    if av is not None and (av.config["fusion"] == "mobel" or av.config["bel_mode"] == "learned"):
        key, name = ("_emb", "MoBEL") if av.config["fusion"] == "mobel" else ("_a", "BEL learned")
        rows[f"{name} (shipped av_emotion)"] = acc(av.fusion_head().predict([test["speech" + key],
                                                                            test["face" + key]], verbose=0))
    # learned BEL and MoBEL fitted here on the training pairs (validated on actors 15-16), frozen streams
    keras.utils.set_random_seed(0)
    for name, layer, key in (("BEL learned (fitted here)", BELDecisionFusion(len(labels), 2, "learned", cov), "_a"),
                             ("MoBEL (fitted here, frozen streams)", MoBELFusion(len(labels), 256, 0.3), "_emb")):
        ins = [keras.Input(data["train"]["speech" + key].shape[1:]), keras.Input(data["train"]["face" + key].shape[1:])]
        head = keras.Model(ins, layer(ins))
        head.compile(keras.optimizers.Adam(1e-2 if key == "_a" else 1e-3), "sparse_categorical_crossentropy",
                     metrics=["accuracy"])
        x = {p: [data[p]["speech" + key], data[p]["face" + key]] for p in data}
        head.fit(x["train"], data["train"]["y"], validation_data=(x["val"], data["val"]["y"]), epochs=40,
                 batch_size=32, verbose=0, callbacks=[keras.callbacks.EarlyStopping(
                     "val_accuracy", mode="max", patience=8, restore_best_weights=True)])
        rows[name] = acc(head.predict(x["test"], verbose=0))
    for k, v in rows.items():
        print(f"  {k:40s} {v:.3f}", flush=True)
    return {"note": note, "labels": list(labels), "accuracy_on_test_pairs": rows,
            "pairs": {p: len(d["y"]) for p, d in data.items()},
            "pairs_rule": "RAVDESS utterance + FER face of the same emotion (calm: a neutral face); train: actors "
                          "01-14 + FER training faces, val: 15-16, test: 17-20 + FER validation faces (seeded 10 %)",
            "chance": round(1 / len(labels), 4)}


def part_deep(args) -> dict:
    from lipkeras.emotion.av import AVEmotionReader

    reader = AVEmotionReader(args.av_model)
    meta = reader.meta
    note = f"speech stream inside {args.av_model}: {meta.get('speech_model')}"
    if "stand" in str(meta.get("speech_model", "")):
        note += " (a STAND-IN until speech_emotion is merged)"
    print(note, flush=True)
    rows, right = [], {"fused": 0, "speech": 0, "face": 0}
    t0 = time.perf_counter()
    for clip in sorted((SHARED / "cremad_sample").glob("1001_*.flv")):
        truth = {"ANG": "angry", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral",
                 "SAD": "sad"}[clip.stem.split("_")[2]]
        r = reader.classify(clip)
        row = {"clip": clip.name, "truth": truth, "fused": r["label"], "speech": r["streams"]["speech"]["label"],
               "face": r["streams"]["face"]["label"]}
        for k in right:
            right[k] += row[k] == truth
        rows.append(row)
        print(f"  {clip.name}: truth {truth}, fused {row['fused']}, speech {row['speech']}, face {row['face']}",
              flush=True)
    return {"note": note, "model": args.av_model, "fusion": meta.get("fusion"), "bel_mode": meta.get("bel_mode"),
            "clips": rows, "correct_of_6": right, "seconds": round(time.perf_counter() - t0, 1)}


PARTS = {"deep": part_deep, "fusion": part_fusion}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--parts", default="deep,fusion", help=f"comma-separated, of {', '.join(PARTS)}")
    p.add_argument("--speech-model", default="speech_emotion")
    p.add_argument("--face-model", default="fer_emotion")
    p.add_argument("--av-model", default="av_emotion")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "av_emotion.json"))
    args = p.parse_args(argv)
    parts = [x.strip() for x in args.parts.split(",") if x.strip()]
    unknown = [x for x in parts if x not in PARTS]
    if unknown:
        p.error(f"unknown parts {unknown} (known: {', '.join(PARTS)})")
    from lipkeras import _quiet

    _quiet.import_tensorflow()
    for part in parts:
        print(f"== {part}", flush=True)
        result = PARTS[part](args)
        result["measured"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        _write_part(Path(args.out), part, result)
    print(f"wrote {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
