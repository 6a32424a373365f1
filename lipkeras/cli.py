"""The ``lipkeras`` command: ``preprocess``, ``inspect``, ``evaluate``, ``transcribe``, ``emotion``,
``export``, ``serve``, ``app``, ``demo``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

VIEW_COUNTS = (1, 2, 5, 10)  # emotion models' test-time views (lipkeras.layers.FaceViews; not imported: keras is slow)
VIEWS_HELP = ("test-time views averaged per face: 1, 2 (+ mirror), 5 (+ 2-pixel shifts), 10 (both); "
              "default: the model's own (its lipkeras.json), else 1")


def _inspect(args) -> int:
    from lipkeras import _quiet  # noqa: F401
    from lipkeras.records.inspect import format_text, summarize

    if args.clip and not args.png:
        print("lipkeras inspect: error: --clip chooses the clip --png draws; give --png FILE too", file=sys.stderr)
        return 2
    try:
        s = summarize(args.records, examples=args.examples, png=args.png, roi=args.roi, clip=args.clip)
    except (FileNotFoundError, LookupError) as exc:
        print(f"lipkeras inspect: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # corrupt shards: say which, no traceback
        print(f"lipkeras inspect: error: {args.records}: unreadable records ({type(exc).__name__}: "
              f"{' '.join(str(exc).split())[:200]})", file=sys.stderr)
        return 2
    print(json.dumps(s) if args.json else format_text(s))
    return 0


def _evaluate_emotion(args) -> int:
    from lipkeras.emotion import EmotionReader, SpeechEmotionReader
    from lipkeras.emotion.audio import is_speech_model
    from lipkeras.evaluate_emotion import evaluate_emotion, evaluate_speech_emotion, write_confusion

    try:
        if is_speech_model(args.model):  # a speech model scores the audio of the records
            reader = SpeechEmotionReader(args.model)
            result = evaluate_speech_emotion(reader, args.data, ids=args.ids, split=args.split)
        else:
            reader = EmotionReader(args.model, precision=args.precision, views=args.views)
            result = evaluate_emotion(reader, args.data, split=args.split, exclude_copies_of=args.exclude_copies_of)
    except (FileNotFoundError, ValueError, OSError) as exc:
        print(f"lipkeras evaluate: error: {exc}", file=sys.stderr)
        return 2
    stem = args.csv[:-4] if args.csv and args.csv.endswith(".csv") else (
        args.csv or f"evaluation/{Path(reader.path).parent.name}_{Path(args.data).stem}")
    result.update(write_confusion(result, stem))
    for skip in result.get("skipped", []):  # one line each, as preprocess reports them; the scores leave them out
        print(f"lipkeras evaluate: {skip['path']}: {skip['reason']}", file=sys.stderr)
    if args.json:
        print(json.dumps(result))
        return 0
    if "excluded_copies" in result:
        print(f"left out {result['excluded_copies']} faces: exact copies of images under {args.exclude_copies_of}")
    for level in ("frame", "video", "clip"):
        if level in result:
            m = result[level]
            print(f"{level}-level: {m['samples']} samples, accuracy {m['accuracy']:.4f}, macro F1 "
                  f"{m['macro']['f1']:.4f}, weighted F1 {m['weighted']['f1']:.4f}")
            if "accuracy_ci95" in m:
                (a0, a1), (f0, f1) = m["accuracy_ci95"], m["macro_f1_ci95"]
                print(f"  95% intervals (bootstrap over samples): accuracy {a0:.4f}-{a1:.4f}, macro F1 {f0:.4f}-{f1:.4f}")
    main = result[result["main"]]
    print(f"{'label':>10} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>7}")
    for name, c in main["per_class"].items():
        print(f"{name:>10} {c['precision']:9.3f} {c['recall']:7.3f} {c['f1']:6.3f} {c['support']:7d}")
    if "clips_per_second" in result:
        print(f"throughput: {result['clips_per_second']} clips/s (model only, {result['max_seconds']} s windows)")
    print(f"confusion matrix: {result['confusion_csv']}, {result['confusion_png']}")
    return 0


def _evaluate(args) -> int:
    from lipkeras import _quiet

    _quiet.import_tensorflow()
    if args.stage == "emotion":
        return _evaluate_emotion(args)
    from lipkeras.evaluate import evaluate, write_csv
    from lipkeras.lipreader import LipReader

    try:
        reader = LipReader(args.model)
        metrics, rows = evaluate(reader, args.data, ids=args.ids, split=args.split, beam_width=args.beam,
                                 batch_size=args.batch_size, lm_weight=args.lm_weight, ctc_weight=args.ctc_weight)
    except (FileNotFoundError, ValueError) as exc:
        print(f"lipkeras evaluate: error: {exc}", file=sys.stderr)
        return 2
    csv_path = args.csv or f"evaluation/{Path(reader.path).parent.name}_{Path(args.data).name}.csv"
    metrics["csv"] = str(write_csv(rows, csv_path))
    _count_trained_clips(reader, rows, metrics, args)
    worst = sorted(rows, key=lambda r: (-r["wer"], -r["cer"], r["clip_id"]))[: args.worst]
    metrics["worst"] = [r for r in worst if r["wer"] > 0 or r["cer"] > 0]
    if args.json:
        print(json.dumps(metrics))
        return 0
    ci = "".join(f"  {k.split('_')[0].upper()} 95% interval {v[0]:.4f}-{v[1]:.4f}"
                 for k, v in metrics.items() if k.endswith("_ci95"))
    print(f"{metrics['clips']} clips: WER {metrics['wer']:.4f}  CER {metrics['cer']:.4f}  "
          f"sentence accuracy {metrics['sentence_accuracy']:.4f}  ({metrics['seconds_per_clip'] * 1000:.0f} ms/clip, "
          f"{_decoding_text(reader, metrics)})")
    if ci:
        print(f" {ci} (bootstrap over clips)")
    for r in metrics["worst"]:
        print(f"  {r['clip_id']}: WER {r['wer']:.2f}  ref: {r['reference']!r}  hyp: {r['hypothesis']!r}")
    print(f"per-clip table: {metrics['csv']}")
    return 0


def _count_trained_clips(reader, rows, metrics, args) -> None:
    """``metrics["trained_clips"]``: evaluated clips the model was trained on (its run's
    clip_splits.json, or the GRID train list of the shipped models); without --ids, a warning."""
    from lipkeras.train.clip_splits import trained_clip_ids

    known = trained_clip_ids(reader.path)
    trained = sum(1 for r in rows if r["clip_id"] in known[0]) if known else 0
    metrics["trained_clips"] = trained
    if trained and not args.ids:
        print(f"lipkeras evaluate: warning: {trained} of the {len(rows)} clips of {args.data} trained "
              f"{reader.path.parent.name} (per {known[1]}): their scores are optimistic; pass --ids with the "
              f"held-out clips (a run's test_ids.txt or val_ids.txt)", file=sys.stderr)


def _decoding_text(reader, metrics) -> str:
    if reader.kind == "crossmodal":
        return (f"attention beam {metrics['beam_width']}, LM weight {metrics['lm_weight']}, "
                f"CTC weight {metrics['ctc_weight']}")
    if metrics["beam_width"] <= 1:
        return "greedy CTC"
    if metrics.get("lm_weight"):
        return f"CTC beam {metrics['beam_width']}, LM weight {metrics['lm_weight']}"
    return f"CTC beam {metrics['beam_width']}"


def _videos(inputs: list[str]) -> list[str]:
    from lipkeras.preprocess.video import VIDEO_EXTENSIONS

    return _inputs(inputs, VIDEO_EXTENSIONS)


def _emotion_reader(name: str | None):
    """The emotion model for transcripts: the one named, else the shipped default if there is one."""
    from lipkeras.emotion import DEFAULT_EMOTION_MODEL, EmotionReader

    if name in ("none", "off"):
        return None
    if name is None:
        try:
            return EmotionReader(DEFAULT_EMOTION_MODEL)
        except FileNotFoundError:
            return None  # no emotion model ships yet: transcripts without emotion
    return EmotionReader(name)


def _transcribe(args) -> int:
    from lipkeras.preprocess.ahead import Ahead

    videos = _videos(args.videos)
    if not videos:
        print("lipkeras transcribe: error: no videos found", file=sys.stderr)
        return 2
    # several videos: worker processes preprocess the next ones (and start while TensorFlow loads)
    with Ahead(args.workers if len(videos) > 1 else 0) as ahead:
        return _transcribe_all(args, videos, ahead)


def _transcribe_all(args, videos: list[str], ahead) -> int:
    from lipkeras import _quiet

    _quiet.import_tensorflow()
    from lipkeras.lipreader import LipReader
    from lipkeras.preprocess.errors import SkipInput

    try:
        reader = LipReader(args.model)
        if reader.kind == "crossmodal":
            reader.decoding_config(args.beam, args.lm_weight, args.ctc_weight)  # fail early on bad options
        emotion = _emotion_reader(args.emotion_model)
    except (FileNotFoundError, ValueError) as exc:
        print(f"lipkeras transcribe: error: {exc}", file=sys.stderr)
        return 2

    # --json with the default emotion model: also the audio-visual emotion of a video with sound
    av_reader = _av_emotion_reader(None) if args.json and args.emotion_model is None else None
    av_reader = None if isinstance(av_reader, Exception) else av_reader
    cfg = reader.preprocess_config(emotion)
    # the audio-visual emotion from the same pass (its audio, the face crops) where they are framed alike
    av_cfg = av_reader.preprocess_config() if av_reader is not None else None
    same_faces = av_cfg is not None and emotion is not None and all(
        getattr(cfg, k) == getattr(av_cfg, k) for k in ("face_size", "face_side", "face_center_y"))
    if same_faces:
        cfg.audio, cfg.audio_rate = True, av_reader.sample_rate
    prepared = ahead.videos(videos, cfg)

    def work(v):
        path, clip, seconds = next(prepared)  # the same order as the videos
        if isinstance(clip, SkipInput):
            raise clip
        r = reader.transcribe_clip(clip, path, beam_width=args.beam, emotion=emotion, preprocess_seconds=seconds,
                                   lm_weight=args.lm_weight, ctc_weight=args.ctc_weight)
        if av_reader is not None:
            from lipkeras.emotion.av import has_audio

            e = None
            if same_faces and len(clip.get("audio", ())):  # the speaker's emotion from face and voice
                try:
                    e = av_reader.classify_clip(clip["face"], clip["audio"], path)
                except SkipInput:  # too little audio for the speech stream: no audio-visual label
                    e = None
            elif not same_faces and has_audio(v):
                e = av_reader.classify(v)
            if e is not None:
                r["av_emotion"] = {k: e[k] for k in ("label", "probs", "confidence", "streams")} | {
                    "model": av_reader.name}
        return r

    return _each("transcribe", videos, "video", reader.name, args.json, work, _transcript_line, (SkipInput,))


def _transcript_line(video: str, r: dict) -> str:
    """``VIDEO: text (confidence 0.97; emotion happy 0.81)``, and a warning line when it is unreliable."""
    extra = [f"confidence {r['confidence']:.2f}"] if "confidence" in r else []
    if "emotion" in r:
        extra.append(f"emotion {r['emotion']} {r['emotion_probs'][r['emotion']]:.2f}")
    line = f"{video}: {r['text']}" + (f" ({'; '.join(extra)})" if extra else "")
    for key in ("warning", "emotion_warning"):
        if key in r:
            line += f"\n  warning: {r[key]}"
    return line


def _each(command, inputs, key, model_name, as_json, work, show, errors) -> int:
    """Run ``work`` on every input; a failure is one stderr line (and a JSON error line) while the
    others go on. Exit status 1 when any failed."""
    failed = 0
    for i in inputs:
        try:
            r = work(i)
        except errors as exc:
            failed += 1
            print(f"lipkeras {command}: {i}: {exc}", file=sys.stderr)
            if as_json:
                print(json.dumps({key: i, "error": str(exc), "model": model_name}), flush=True)
            continue
        print(json.dumps(r) if as_json else show(i, r), flush=True)
    return 1 if failed else 0


def _inputs(inputs: list[str], extensions: tuple[str, ...]) -> list[str]:
    from lipkeras.preprocess.sources import media_files

    out = []
    for i in inputs:
        p = Path(i)
        if p.is_dir():
            out += [str(f) for f in media_files(p, extensions)]
        else:
            out.append(i)
    return out


def _av_emotion_reader(name: str | None, required: bool = False):
    """The audio-visual emotion model: the one named, else the shipped ``av_emotion`` if there is one
    (``None`` when there is none and it is not ``required``; the error when it cannot be loaded)."""
    from lipkeras.emotion.av import DEFAULT_AV_MODEL, AVEmotionReader

    if name in ("none", "off"):
        return None
    try:
        return AVEmotionReader(name or DEFAULT_AV_MODEL)
    except (FileNotFoundError, ValueError) as exc:
        return exc if (required or name) else None


def _modality(path: str, asked: str, av_ready: bool) -> str:
    """What to read of one input. ``auto``: an audio file → audio; an image → face; a video → av when
    it has an audio track and an audio-visual model is loaded (``av_ready``), else face."""
    from lipkeras.preprocess.sources import IMAGE_EXTENSIONS
    from lipkeras.preprocess.video import AUDIO_EXTENSIONS

    suffix = Path(path).suffix.lower()
    if asked != "auto":
        return asked
    if suffix in AUDIO_EXTENSIONS:
        return "audio"
    if suffix in IMAGE_EXTENSIONS or not av_ready:
        return "face"
    from lipkeras.emotion.av import has_audio

    return "av" if has_audio(path) else "face"


def _emotion(args) -> int:
    from lipkeras import _quiet

    _quiet.import_tensorflow()
    from lipkeras.emotion import EmotionReader, SpeechEmotionReader
    from lipkeras.preprocess.errors import SkipInput
    from lipkeras.preprocess.sources import IMAGE_EXTENSIONS
    from lipkeras.preprocess.video import AUDIO_EXTENSIONS, VIDEO_EXTENSIONS

    inputs = _inputs(args.inputs, IMAGE_EXTENSIONS + VIDEO_EXTENSIONS + AUDIO_EXTENSIONS)
    if not inputs:
        print("lipkeras emotion: error: no images, videos or audio files found", file=sys.stderr)
        return 2
    # auto: the audio-visual model for videos with sound, unless a face --model was named (the face it is)
    any_video = any(Path(i).suffix.lower() in VIDEO_EXTENSIONS for i in inputs)
    wants_av = args.modality == "av" or (args.modality == "auto" and any_video and (args.av_model or not args.model))
    av_reader = _av_emotion_reader(args.av_model, required=args.modality == "av") if wants_av else None
    if isinstance(av_reader, Exception):
        print(f"lipkeras emotion: error: {av_reader}", file=sys.stderr)
        return 2
    modality = {i: _modality(i, args.modality, av_reader is not None) for i in inputs}
    readers = {}
    try:  # the face model also reads silent videos under av
        if {"face", "av"} & set(modality.values()):
            readers["face"] = EmotionReader(args.model, precision=args.precision, views=args.views)
        if "audio" in modality.values():
            readers["audio"] = SpeechEmotionReader(args.audio_model)
        if "av" in modality.values():
            readers["av"] = av_reader
    except (FileNotFoundError, ValueError) as exc:
        print(f"lipkeras emotion: error: {exc}", file=sys.stderr)
        return 2
    face = readers.get("face")
    # face crops (--aligned, or small enough to be one) go through in parallel-decoded batches;
    # photos and videos one at a time through the landmarker
    crops = face.classify_face_crops([i for i in inputs if modality[i] == "face" and Path(i).suffix.lower()
                                      in IMAGE_EXTENSIONS and (args.aligned or face.is_face_crop(i))]) if face else {}

    def stream(r):
        return {"label": r["label"], "probs": r["probs"]}

    def work(i):
        suffix = Path(i).suffix.lower()
        if modality[i] != "face" and suffix in IMAGE_EXTENSIONS:
            raise SkipInput(f"an image has no audio (--modality {modality[i]} reads audio files and videos)")
        if modality[i] in ("face", "av") and suffix in AUDIO_EXTENSIONS:
            raise SkipInput(f"an audio file has no face (--modality {modality[i]} reads images and videos)")
        if modality[i] == "audio":
            r = readers["audio"].predict_file(i)
            return r | {"model": readers["audio"].name, "modality": "audio", "streams": {"speech": stream(r)}}
        if modality[i] == "av":
            from lipkeras.emotion.av import has_audio

            if has_audio(i):
                return readers["av"].classify(i) | {"model": readers["av"].name}
            r = face.classify(i)  # a silent video: the face model, said
            return r | {"modality": "face", "model": face.name, "note": "no audio track: the face alone",
                        "streams": {"face": stream(r)}}
        r = crops[i] if i in crops else face.classify(i, aligned=True if args.aligned else None)
        if isinstance(r, Exception):
            raise r
        return r | {"model": face.name, "modality": "face", "streams": {"face": stream(r)}}

    def show(i, r):
        line = f"{i}: {r['label']} ({r['probs'][r['label']]:.2f}, {r['modality']})"
        if r["modality"] == "av":
            line += " [" + ", ".join(f"{k} {v['label']} {v['probs'][v['label']]:.2f}"
                                     for k, v in r["streams"].items()) + "]"
        line += f"\n  note: {r['note']}" if "note" in r else ""
        return line + (f"\n  warning: {r['warning']}" if "warning" in r else "")

    model_name = " + ".join(r.name for r in readers.values())
    return _each("emotion", inputs, "input", model_name, args.json, work, show, (SkipInput, OSError))


def build_parser() -> argparse.ArgumentParser:
    from lipkeras import __version__
    from lipkeras.preprocess.cli import add_arguments

    p = argparse.ArgumentParser(prog="lipkeras", description="Read lips and faces with TensorFlow/Keras.")
    p.add_argument("--version", action="version", version=f"lipkeras {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    pre = sub.add_parser("preprocess", help="videos/images → sharded TFRecords of mouth and face crops",
                         description="Turn videos (or face images) into sharded TFRecords of mouth and face crops.")
    add_arguments(pre)

    ins = sub.add_parser("inspect", help="what is in a records folder",
                         description="Count, frame range, shapes and a few transcripts/labels of a records folder.")
    ins.add_argument("records", help="records folder, shard file or glob")
    ins.add_argument("--json", action="store_true", help="print one JSON object")
    ins.add_argument("--png", help="write a contact sheet of one clip's frames to this PNG (the first clip, or --clip)")
    ins.add_argument("--clip", metavar="ID", help="the clip --png draws: its id (s1/bbaf3s) or the id's last part")
    ins.add_argument("--roi", choices=("mouth", "face"), default="mouth", help="which crop --png draws")
    ins.add_argument("--examples", type=int, default=5, help="how many transcripts/labels to show")

    rec = sub.add_parser("records", help="records tools: export-npz (arrays for training without TensorFlow)",
                         description="export-npz DATA OUT.npz: records or an image folder as NumPy arrays per split "
                                     "(`lipkeras records export-npz --help`).", add_help=False)
    rec.add_argument("tool", nargs="?", choices=("export-npz",), help="which tool")
    rec.add_argument("rest", nargs=argparse.REMAINDER, help="its arguments")
    sub.add_parser("calibrate", help="fit a model's confidence and domain on its validation/training data "
                   "(`lipkeras calibrate --help`)", add_help=False).add_argument("rest", nargs=argparse.REMAINDER)
    trn = sub.add_parser("train", help="train a model (`lipkeras train --stage STAGE --help`)", add_help=False,
                         description="The same as python -m lipkeras.train.")
    trn.add_argument("rest", nargs=argparse.REMAINDER, help="--stage STAGE and its fields")

    demo = sub.add_parser("demo", help="the quick start: preprocess the bundled GRID sample and read it back",
                          description="Preprocess the bundled GRID clips into tfrecords/grid_sample, read one batch, "
                                      "print shapes and a transcript, save a contact sheet of mouth frames.")
    demo.add_argument("--out", default="tfrecords/grid_sample", help="records folder (default tfrecords/grid_sample)")
    demo.add_argument("--workers", type=int, default=None, help="parallel processes (default: all cores)")
    ev = sub.add_parser("evaluate", help="WER/CER of a lip reader; accuracy/F1 of an emotion model",
                        description="Lip readers: WER, CER (jiwer) and sentence accuracy on mouth records, a "
                                    "per-clip CSV and the worst cases. --stage emotion: accuracy, per-class "
                                    "precision/recall/F1, macro/weighted averages, confusion matrix (CSV + PNG).")
    ev.add_argument("--stage", choices=("lipreading", "emotion"), default="lipreading",
                    help="what kind of model (default lipreading)")
    ev.add_argument("--model", default=None,
                    help="model path or name under saved_models/ (default grid_lipreader; emotion: fer_emotion)")
    ev.add_argument("--data", required=True, help="records folder, shard file or glob; emotion: also a folder of "
                    "<label>/ images or a training run's split.json")
    ev.add_argument("--ids", help="only these clips: a split list file (e.g. lipkeras/splits/grid_s1/test.txt, or "
                    "a training run's test_ids.txt)")
    ev.add_argument("--split", help="only records written to this split")
    ev.add_argument("--beam", type=int, default=0,
                    help="beam width; 0 = the model's default decoding (CTC models: 1 = greedy)")
    ev.add_argument("--lm-weight", type=float, default=None,
                    help="weight of the model's character LM in shallow fusion (models that ship one; default: the model's)")
    ev.add_argument("--ctc-weight", type=float, default=None,
                    help="cross-modal models: weight of the CTC prefix score (default: the model's)")
    ev.add_argument("--batch-size", type=int, default=16)
    ev.add_argument("--csv", help="per-clip table (default evaluation/<model>_<data>.csv)")
    ev.add_argument("--worst", type=int, default=5, help="how many worst clips to show")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                    help="emotion models: compute precision (bfloat16 is faster on CPUs with bf16 units)")
    ev.add_argument("--views", type=int, choices=VIEW_COUNTS, default=None, help="emotion models: " + VIEWS_HELP)
    ev.add_argument("--exclude-copies-of", metavar="FOLDER", default=None,
                    help="emotion models on images: leave out faces whose pixels exactly equal an image under "
                         "FOLDER (e.g. the model's training faces), counted as excluded_copies")

    tr = sub.add_parser("transcribe", help="read the lips in videos",
                        description="Preprocess raw videos (same code as preprocess), run a lip reader, decode.")
    tr.add_argument("videos", nargs="+", metavar="VIDEO", help="video files or folders of videos")
    tr.add_argument("--model", default=None, help="model path or name under saved_models/ (default grid_lipreader)")
    tr.add_argument("--beam", type=int, default=0,
                    help="beam width; 0 = the model's default decoding (CTC models: 1 = greedy)")
    tr.add_argument("--lm-weight", type=float, default=None,
                    help="weight of the model's character LM in shallow fusion (models that ship one; default: the model's)")
    tr.add_argument("--ctc-weight", type=float, default=None,
                    help="cross-modal models: weight of the CTC prefix score (default: the model's)")
    tr.add_argument("--emotion-model", default=None,
                    help="emotion model for the speaker's emotion (default: the shipped fer_emotion; 'none': off)")
    tr.add_argument("--workers", type=int, default=None,
                    help="processes preprocessing the next videos while the model reads (default: all cores but "
                         "one; 0: one video at a time)")
    tr.add_argument("--json", action="store_true",
                    help="one JSON object per video; its 'seconds' is this machine's processing time "
                         "(preprocessing + lip reading + emotion; split into preprocess_seconds and model_seconds; "
                         "with several videos the next ones are preprocessed meanwhile), "
                         "'video_seconds' the length of the video (frames / fps)")

    em = sub.add_parser("emotion", help="emotion of faces (images, videos) and speech (audio files, videos)",
                        description="Classify the facial emotion of images (face crops or photos) and videos, and "
                                    "the emotion in the speech of audio files and videos' audio tracks.")
    em.add_argument("inputs", nargs="+", metavar="INPUT",
                    help="images, videos, audio files, or folders of them (recursive)")
    em.add_argument("--model", default=None, help="face model path or name under saved_models/ (default fer_emotion)")
    em.add_argument("--audio-model", default=None,
                    help="speech model path or name under saved_models/ (default speech_emotion)")
    em.add_argument("--aligned", action="store_true", help="images are already face crops: no face detection")
    em.add_argument("--json", action="store_true", help="one JSON object per input, with 'modality' and 'streams' "
                    "(each stream's label and probabilities)")
    em.add_argument("--modality", choices=("auto", "face", "audio", "av"), default="auto",
                    help="auto (default): audio for audio files, face for images, av for a video with an audio track "
                         "when an audio-visual model ships and no face --model is named, else face; face: the face "
                         "model; audio: the speech model (audio files, videos' audio); av: both fused (a video "
                         "without sound falls back to face, with a note)")
    em.add_argument("--av-model", default=None, help="audio-visual model (default: the shipped av_emotion)")
    em.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                    help="compute precision (bfloat16: ~2× faster on CPUs with AMX/AVX512-BF16)")
    em.add_argument("--views", type=int, choices=VIEW_COUNTS, default=None, help=VIEWS_HELP)
    ex = sub.add_parser("export", help="a trained model → a TF Serving SavedModel (or TFLite)",
                        description="Export a trained model to OUT/NAME/VERSION/ (TF Serving's layout) with "
                                    "serving signatures for tensors and tf.Examples, or to TFLite.")
    ex.add_argument("--model", required=True, help="model path (.keras, a folder with model.keras) or name under "
                    "saved_models/")
    ex.add_argument("--name", default=None, help="served model name (default: the model's name)")
    ex.add_argument("--version", type=int, default=None, help="version number (default: the next free one)")
    ex.add_argument("--out", default="saved_models", help="model base path (default saved_models)")
    ex.add_argument("--format", choices=("saved_model", "tflite"), default="saved_model",
                    help="saved_model (default) or tflite (OUT/NAME/tflite/VERSION/model.tflite)")
    ex.add_argument("--overwrite", action="store_true", help="replace an existing version")
    ex.add_argument("--quantize", choices=("none", "int8"), default="none",
                    help="tflite, emotion models: int8 post-training quantization (default none)")
    ex.add_argument("--calibration-data", metavar="FOLDER", default=None,
                    help="--quantize int8: face images like the training faces to calibrate on")
    ex.add_argument("--calibration-count", type=int, default=500, help="faces to calibrate on (default 500)")
    ex.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                    help="emotion models: compute precision of the exported graph (default float32)")
    ex.add_argument("--views", type=int, choices=VIEW_COUNTS, default=1,
                    help="emotion models: test-time views averaged inside the exported graph (default 1)")

    sv = sub.add_parser("serve", help="serve SavedModels over TF Serving's REST API",
                        description="Serve every model under the base path (NAME/VERSION/saved_model.pb) with TF "
                                    "Serving's REST API, plus POST /v1/models/NAME:transcribe (lipkeras extension).")
    sv.add_argument("--model-base-path", default="saved_models", help="folder of NAME/VERSION/ (default saved_models)")
    sv.add_argument("--port", type=int, default=8501, help="port (default 8501, TF Serving's REST port; 0: any free)")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sv.add_argument("--models", nargs="+", default=None, metavar="NAME", help="serve only these models")
    sv.add_argument("--all-versions", action="store_true", help="serve every version, not only the newest")
    sv.add_argument("--threads", type=int, default=8, help="request threads (default 8)")
    sv.add_argument("--max-body-mb", type=float, default=64.0, help="request body limit in MiB (default 64)")
    sv.add_argument("--request-timeout", type=float, default=120.0,
                    help="seconds a request may compute before a 504 (default 120)")

    ap = sub.add_parser("app", help="a web page that reads lips and facial emotion (Gradio, loopback)",
                        description="Serve a web page (Gradio) on which a person picks a bundled sample, uploads a "
                                    "video or records one with the webcam, and sees the transcript with per-character "
                                    "confidence, the n-best texts, the raw CTC tokens, the mouth crops and the facial "
                                    "emotion over time. Needs the app extra: pip install -e \".[app]\".")
    ap.add_argument("--port", type=int, default=7860, help="port (default 7860, Gradio's; 0: any free)")
    ap.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    ap.add_argument("--max-mb", type=float, default=50.0, help="largest video accepted, in MB (default 50)")
    ap.add_argument("--max-seconds", type=float, default=30.0, help="longest video accepted, in seconds (default 30)")
    ap.add_argument("--concurrency", type=int, default=2,
                    help="videos read at once; later visitors wait in Gradio's queue (default 2)")
    return p


def _app(args) -> int:
    try:
        from lipkeras.app import ui
    except ImportError as e:
        print(f"lipkeras app: error: {e.name or e} is not installed: pip install -e \".[app]\"", file=sys.stderr)
        return 2
    try:
        ui.launch(args.host, args.port, args.max_mb, args.max_seconds, args.concurrency)
    except (FileNotFoundError, OSError) as e:
        print(f"lipkeras app: error: {e}", file=sys.stderr)
        return 1
    return 0


def _export(args) -> int:
    from lipkeras import _quiet

    _quiet.import_tensorflow()
    from lipkeras.export import ExportError

    try:
        if args.quantize != "none" and args.format != "tflite":
            raise ExportError(f"--quantize {args.quantize} is for --format tflite (a SavedModel computes in "
                              "--precision float32 or bfloat16)")
        if args.format == "tflite":
            from lipkeras.export.tflite import export_tflite

            path = export_tflite(args.model, args.name, args.version, args.out, args.overwrite,
                                 quantize=args.quantize, calibration_data=args.calibration_data,
                                 calibration_count=args.calibration_count)
        else:
            from lipkeras.export import export_saved_model

            path = export_saved_model(args.model, args.name, args.version, args.out, args.overwrite,
                                      precision=args.precision, views=args.views)
    except (ExportError, FileNotFoundError) as e:
        print(f"lipkeras export: {e}", file=sys.stderr)
        return 1
    print(f"exported {args.model} → {path}")
    return 0


def _serve(args) -> int:
    from lipkeras import _quiet

    _quiet.import_tensorflow()
    from lipkeras.serve.server import serve

    try:
        return serve(args.model_base_path, args.host, args.port, args.threads, args.max_body_mb, args.request_timeout,
                     "all" if args.all_versions else "latest", args.models)
    except (FileNotFoundError, OSError) as e:
        print(f"lipkeras serve: {e}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["train"]:  # its own parser: every stage's fields
        from lipkeras.train.__main__ import main as train_main

        return train_main(argv[1:], prog="lipkeras train")
    if argv[:1] == ["calibrate"]:
        from lipkeras.calibrate import main as calibrate_main

        return calibrate_main(argv[1:])
    if argv[:2] == ["records", "export-npz"]:
        from lipkeras.records.arrays import main as export_npz

        return export_npz(argv[2:])
    extra: list[str] = []
    if argv[:1] == ["preprocess"]:  # flags it does not know are Beam pipeline options (--runner beam)
        args, extra = build_parser().parse_known_args(argv)
    else:
        args = build_parser().parse_args(argv)
    if args.command == "records":  # export-npz returned above
        print("usage: lipkeras records export-npz DATA OUT.npz [options] (see `lipkeras records export-npz --help`)",
              file=sys.stderr)
        return 2
    if args.command == "preprocess":
        from lipkeras.preprocess.cli import run

        return run(args, extra)
    if args.command == "inspect":
        return _inspect(args)
    if args.command == "evaluate":
        return _evaluate(args)
    if args.command == "transcribe":
        return _transcribe(args)
    if args.command == "emotion":
        return _emotion(args)
    if args.command == "export":
        return _export(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "app":
        return _app(args)
    if args.command == "demo":
        from lipkeras.demo import main as demo_main

        return demo_main(args.out, args.workers)
    return 2


if __name__ == "__main__":
    sys.exit(main())
