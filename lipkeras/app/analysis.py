"""What the web app does with a video, without the web: check it, read it, and draw the results.

Everything here calls the package's own API (``LipReader.preprocess_video`` and
``transcribe_clip``, ``EmotionReader``, ``lipkeras.visualize``): the app has no preprocessing or
decoding of its own. The renderers are pure functions of a result dict, so they are tested
without a browser.
"""

from __future__ import annotations

import html
import threading
import time
from pathlib import Path

import numpy as np

LIP_MODELS = ("grid_lipreader", "grid_crossmodal")
EMOTION_MODELS = ("fer_emotion", "fer_emotion_fast")
NBEST = 5  # alternatives shown (the crossmodal reader's beam is 5 wide, grid_lipreader's 10)
MAX_MB = 50.0  # upload limit: a 30-second phone video is about 20-60 MB
MAX_SECONDS = 30.0  # longer videos are refused: on 2 cores a 3-second clip takes ~2-5 s to read
BLANK, SPACE = "·", "␣"  # how the raw CTC tokens show the blank and the space


class InputError(Exception):
    """A video the app cannot read; ``str(exc)`` is the one line shown in the page."""


def sample_videos() -> list[Path]:
    """The bundled GRID clips a person can pick (``lipkeras/samples/grid/s1/*.mp4``)."""
    from lipkeras.paths import GRID_SAMPLE

    return sorted((GRID_SAMPLE / "s1").glob("*.mp4"))


class Models:
    """The shipped models, each loaded once on first use and shared by every visitor.

    Loading is serialised (two first visitors do not load a model twice) and so is inference
    (``run_lock``): Keras models are not documented as safe to call from several threads, and on
    2 cores parallel inference gains nothing. Preprocessing (MediaPipe, the heavier half) runs
    outside the lock, so concurrent visitors overlap there.
    """

    def __init__(self):
        self._loaded: dict[tuple[str, str], object] = {}
        self._load_lock = threading.Lock()
        self.run_lock = threading.Lock()

    def lip_reader(self, name: str):
        from lipkeras.lipreader import LipReader

        return self._get("lip", name, LipReader)

    def emotion_reader(self, name: str):
        from lipkeras.emotion import EmotionReader

        return self._get("emotion", name, EmotionReader)

    def _get(self, kind: str, name: str, load):
        with self._load_lock:
            if (kind, name) not in self._loaded:
                self._loaded[(kind, name)] = load(name)
            return self._loaded[(kind, name)]


def check_video(path: str | Path, max_mb: float = MAX_MB, max_seconds: float = MAX_SECONDS) -> float:
    """The video's stated length in seconds; ``InputError`` when it is too large, too long or no video."""
    from lipkeras.preprocess.errors import SkipInput
    from lipkeras.preprocess.video import duration_seconds

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path.name}: file not found")
    mb = path.stat().st_size / 2**20
    if mb > max_mb:
        raise InputError(f"{path.name}: too large ({mb:.1f} MB; the app reads videos up to {max_mb:g} MB)")
    try:
        seconds = duration_seconds(path)
    except SkipInput as e:
        raise InputError(f"{path.name}: {e}") from None
    if seconds > max_seconds:
        raise InputError(f"{path.name}: too long ({seconds:.1f} s; the app reads videos up to {max_seconds:g} s)")
    return seconds


def analyze(models: Models, video: str | Path, lip_model: str = LIP_MODELS[0], emotion_model: str | None = EMOTION_MODELS[0],
            max_mb: float = MAX_MB, max_seconds: float = MAX_SECONDS, name: str | None = None) -> dict:
    """``lipkeras transcribe``'s result for one video with the details the page shows (n-best,
    per-character confidences, raw CTC tokens, emotion over time), plus ``mouth``: the mouth
    crops ``[T, H, W, 1]`` it read, and ``wall_seconds``. ``name``: the file name to report (an
    upload's own name rather than its temporary path). Raises ``InputError`` with one line."""
    from lipkeras.preprocess.errors import SkipInput

    t0 = time.perf_counter()
    shown = name or Path(video).name
    try:
        check_video(video, max_mb, max_seconds)
    except InputError as e:
        raise InputError(str(e).replace(Path(video).name, shown, 1)) from None
    reader = models.lip_reader(lip_model)
    emotion = models.emotion_reader(emotion_model) if emotion_model else None
    t1 = time.perf_counter()
    try:
        clip = reader.preprocess_video(video, emotion)
    except SkipInput as e:
        raise InputError(f"{shown}: {e}") from None
    t2 = time.perf_counter()
    with models.run_lock:
        result = reader.transcribe_clip(clip, shown, emotion=emotion, nbest=NBEST, details=True,
                                        preprocess_seconds=t2 - t1)
    result.update(mouth=clip["mouth"], vocab_tokens=reader.vocab.tokens(), fps=reader.meta["fps"],
                  wall_seconds=round(time.perf_counter() - t0, 3), load_seconds=round(t1 - t0, 3))
    return result


# ---------------------------------------------------------------------------- renderers

def confidence_colour(confidence: float) -> str:
    """Red (0) through amber to green (1), as an HSL colour for a character's background."""
    return f"hsl({round(120 * min(max(confidence, 0.0), 1.0))}, 75%, 82%)"


def transcript_html(text: str, char_confidences: list[float]) -> str:
    """The transcript, each character on a background coloured by its confidence (hover: the value)."""
    if not text:
        return '<div class="transcript"><i>(no words read)</i></div>'
    spans = []
    for char, conf in zip(text, char_confidences):
        shown = "&nbsp;" if char == " " else html.escape(char)
        spans.append(f'<span title="{conf:.2f}" style="background:{confidence_colour(conf)}">{shown}</span>')
    return f'<div class="transcript" data-text="{html.escape(text)}">{"".join(spans)}</div>'


def ctc_tokens_text(frame_ids: list[int], tokens: list[str]) -> str:
    """The reader's best token per frame, before CTC merges repeats and drops blanks (as the
    LipNet seed app shows them): one character per frame, then the token ids."""
    def char(i: int) -> str:
        t = tokens[i]
        return BLANK if i == 0 else SPACE if t == " " else t if len(t) == 1 else "?"

    chars = "".join(char(i) for i in frame_ids)
    return (f"{len(frame_ids)} frames ({BLANK} blank, {SPACE} space):\n{chars}\n\n"
            f"token ids: {' '.join(str(i) for i in frame_ids)}")


def nbest_rows(nbest: list[dict]) -> list[list]:
    """Rank, text and score of each alternative (best first)."""
    return [[k + 1, h["text"], "" if h.get("score") is None else round(float(h["score"]), 3)]
            for k, h in enumerate(nbest)]


def summary_markdown(r: dict) -> str:
    """The page's status: what was read by which models, the verdicts, warnings and timings."""
    lines = [f"**{r['video']}** read by `{r['model']}`" + (f" and `{r['emotion_model']}`" if "emotion_model" in r else ""),
             f"transcript: **{r['text'] or '(none)'}**, confidence {r['confidence']:.2f}"
             + ("" if r.get("in_domain", True) else " (out of the model's domain)")]
    if "emotion" in r:
        lines.append(f"emotion: **{r['emotion']}**, confidence {r['emotion_confidence']:.2f}")
    for key in ("warning", "emotion_warning"):
        if key in r:
            lines.append(f"⚠ {r[key]}")
    lines.append(f"timings: {r['wall_seconds']:.2f} s in all for {r['video_seconds']:.1f} s of video "
                 f"({r['frames']} frames): preprocessing {r['preprocess_seconds']:.2f} s, "
                 f"lip reading + emotion {r['seconds'] - r['preprocess_seconds']:.2f} s"
                 + (f", model loading {r['load_seconds']:.2f} s" if r.get("load_seconds", 0) > 0.05 else ""))
    return "  \n".join(lines)


def error_markdown(message: str) -> str:
    return f"**error:** {message}"


def emotion_figure(r: dict):
    """Per-frame emotion probabilities over time (the frames the label averages), one line per label."""
    from matplotlib.figure import Figure  # not pyplot: figures are drawn from several request threads

    fig = Figure(figsize=(7, 2.8), dpi=100)
    ax = fig.add_subplot()
    t = np.asarray(r["emotion_frame_indices"], float) / r.get("fps", 25.0)
    probs = np.asarray(r["emotion_frame_probs"])
    for k, label in enumerate(r["emotion_labels"]):
        ax.plot(t, probs[:, k], label=label, linewidth=2.2 if label == r["emotion"] else 1.0)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability")
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.set_title(f"{r['emotion_model']}: {r['emotion']} (mean of {len(t)} frames)", fontsize=9)
    fig.tight_layout()
    return fig


def mouth_gif(mouth: np.ndarray, path: str | Path, fps: float = 25.0) -> Path:
    """The mouth crops the reader read, as an animated GIF at twice their size."""
    from lipkeras.visualize import save_gif

    return save_gif(mouth, path, fps=fps, scale=2)
