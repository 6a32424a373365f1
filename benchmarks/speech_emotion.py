"""Ship a trained ``--stage audio-emotion`` run as ``saved_models/speech_emotion``: the best checkpoint,
a temperature calibration on the validation actors, the scores on the test actors, the model card.

    python benchmarks/speech_emotion.py RUN [--records runs/ravdess_audio] [--out saved_models/speech_emotion]

Scores come from the records' committed actor split (lipkeras/splits/ravdess_speech: test actors
17-20 are never trained or validated on); the measured figures are written to
``RUN/shipped_scores.json`` and into the model card.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

from lipkeras import _quiet

_quiet.import_tensorflow()

from lipkeras.paths import PACKAGE_ROOT  # noqa: E402

SPLITS = PACKAGE_ROOT / "splits" / "ravdess_speech"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("--records", default="runs/ravdess_audio")
    p.add_argument("--out", default="saved_models/speech_emotion")
    p.add_argument("--recipe", default="", help="a line on how it was trained, for the card")
    args = p.parse_args(argv)

    from lipkeras.emotion.audio import SpeechEmotionReader, calibrate, ship
    from lipkeras.evaluate_emotion import evaluate_speech_emotion
    from lipkeras.records.audio import audio_dataset
    from lipkeras.records.io import write_json_atomic

    run = Path(args.run)
    config = json.loads((run / "config.json").read_text())
    summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").is_file() else {}
    ship(run / "best.keras", args.out, config["max_seconds"])
    reader = SpeechEmotionReader(args.out)
    val = [b for b in audio_dataset(args.records, batch_size=64, labels=reader.labels, max_seconds=reader.max_seconds,
                                    clip_ids=SPLITS / "val.txt", cache=False)]
    waves = [w[:n] for b in val for w, n in zip(b["waveform"].numpy(), b["lengths"].numpy())]
    labels = [y for b in val for y in b["label"].numpy().tolist()]
    confidence = calibrate(reader, waves, labels)
    confidence["data"] = f"{args.records} (RAVDESS speech, validation actors 15-16)"
    meta_file = Path(args.out) / "lipkeras.json"
    meta = json.loads(meta_file.read_text())
    meta["confidence"] = confidence
    test = evaluate_speech_emotion(SpeechEmotionReader(args.out), args.records, ids=SPLITS / "test.txt")
    m = test["clip"]
    meta["test"] = {"data": "RAVDESS speech, actors 17-20 (240 clips, unseen)", "accuracy": round(m["accuracy"], 4),
                    "macro_f1": round(m["macro"]["f1"], 4), "accuracy_ci95": [round(v, 4) for v in m["accuracy_ci95"]],
                    "macro_f1_ci95": [round(v, 4) for v in m["macro_f1_ci95"]]}
    write_json_atomic(meta_file, meta)
    scores = {"run": str(run), "val_accuracy": confidence["validation"]["accuracy"], "test": test,
              "train_seconds": summary.get("train_seconds"), "epochs_run": summary.get("epochs_run"),
              "parameters": summary.get("parameters")}
    write_json_atomic(run / "shipped_scores.json", scores)
    per_class = "\n".join(f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
                          for k, v in m["per_class"].items())
    confusion = "\n".join(f"| {name} | " + " | ".join(str(c) for c in row) + " |"
                          for name, row in zip(test["labels"], m["confusion_matrix"]))
    card = f"""# speech_emotion

Speech emotion recognition from a raw 16 kHz mono waveform: `SpeechEmotionCRNN`
(`lipkeras.models.speech_emotion`): log-mel spectrogram ({config['n_mels']} bands, 25 ms / 10 ms) →
per-utterance normalisation → SpecAugment (training only) → Conv2D blocks {config['filters']} (BatchNorm,
ReLU, max-pooling) → LSTM {config['lstm_units']} (masked) → Dense {config['embedding_units']} `embedding` →
softmax over 8 labels: {", ".join(reader.labels)}. {summary.get('parameters', 0):,} parameters.
Files are read in their centred {reader.max_seconds:g} s window.

## Data and split

RAVDESS speech (Livingstone & Russo 2018; 1,200 of the 1,440 audio-only speech clips: actors 01-20, 16 kHz
mono), labels from the file names. Split by actor (`lipkeras/splits/ravdess_speech`): actors 01-14 train
(840 clips), 15-16 validation (120), 17-20 test (240); no actor is in two splits. RAVDESS is licensed
CC BY-NC-SA 4.0 (non-commercial, share-alike); **the data is not bundled** with lipkeras, and this model,
trained on it, carries the same terms.

## Training

`python -m lipkeras.train --stage audio-emotion` (config `train_config.json`): {args.recipe or 'see train_config.json'}.
AdamW, warm-up + cosine, label smoothing {config['label_smoothing']}, batch {config['batch_size']}; augmentation: a random
{config['max_seconds']:g} s window and ±{config['gain_db']:g} dB gain per clip, SpecAugment. Trained on a 2-vCPU AMD EPYC
machine, no GPU (shared with other jobs): {summary.get('epochs_run')} epochs in {summary.get('train_seconds')} s for
this run (training seconds of the earlier run it started from are in the recipe line). The checkpoint with the best
validation accuracy is shipped.

## Measured scores

| split | clips | accuracy | macro F1 |
|---|---|---|---|
| validation (actors 15-16) | {confidence['validation']['clips']} | {confidence['validation']['accuracy']:.4f} | |
| **test (actors 17-20, unseen)** | {m['samples']} | **{m['accuracy']:.4f}** (95 % CI {m['accuracy_ci95'][0]:.3f}-{m['accuracy_ci95'][1]:.3f}) | **{m['macro']['f1']:.4f}** (95 % CI {m['macro_f1_ci95'][0]:.3f}-{m['macro_f1_ci95'][1]:.3f}) |

The majority-class baseline is 13.3 % (per actor 8 clips of each emotion, 4 of neutral, which has no strong intensity).
Inference: {test['clips_per_second']} clips/s ({reader.max_seconds:g} s windows, batches of 32, model only) on the same
CPU ({platform.processor() or platform.machine()}).

Per class on the test actors:

| label | precision | recall | F1 | clips |
|---|---|---|---|---|
{per_class}

Confusion matrix (rows: true, columns: predicted, order as the rows):

| true \\ predicted | {" | ".join(test['labels'])} |
|---|{"---|" * len(test['labels'])}
{confusion}

## Confidence

`lipkeras.json` → `confidence`: temperature scaling T = {confidence['temperature']} fit on the validation actors
(ECE {confidence['validation']['ece_before']} → {confidence['validation']['ece']}); labels under confidence 0.5 carry a
warning. 120 validation clips make this a rough fit: T minimises the validation NLL, and the binned ECE need not
fall with it.

## Limits

Acted, studio-quality North American English sentences ("Kids are talking by the door", "Dogs are sitting by the
door"); 20 speakers in all. Expect lower scores on spontaneous speech, other languages, noise and other
microphones. Silent or near-silent inputs (under -60 dBFS) are refused, not classified.
"""
    (Path(args.out) / "MODEL_CARD.md").write_text(card)
    import shutil

    shutil.copyfile(run / "config.json", Path(args.out) / "train_config.json")
    if (run / "curves.png").is_file():
        shutil.copyfile(run / "curves.png", Path(args.out) / "curves.png")
    print(json.dumps({"val_accuracy": scores["val_accuracy"], "test_accuracy": m["accuracy"],
                      "test_macro_f1": m["macro"]["f1"], "clips_per_second": test["clips_per_second"],
                      "temperature": confidence["temperature"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
