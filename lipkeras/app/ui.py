"""The Gradio page of ``lipkeras app``: pick, upload or record a video; see it read.

Three ways in (a bundled sample, an upload, a webcam recording), each with its own button and
API endpoint (``/read_sample``, ``/read_upload``, ``/read_recording``), all ending in
``analysis.analyze``. Gradio's queue runs ``concurrency`` requests at a time and queues the rest,
so every visitor gets an answer.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # loopback only: no calls home

import gradio as gr

from lipkeras.app import analysis

CSS = """
.transcript { font-family: ui-monospace, monospace; font-size: 1.6em; line-height: 1.8; }
.transcript span { padding: 0.05em 0.02em; border-radius: 3px; }
"""

INTRO = """# lipkeras: read lips and faces
Pick a bundled GRID clip, upload a video (any format PyAV reads, up to {max_mb:g} MB and {max_seconds:g} s) or
record one with the webcam; the lip reader gives the words, with each character coloured by its confidence
(green: sure, red: unsure), and the emotion model the speaker's facial emotion. The lip readers know one
GRID speaker and GRID's six-word grammar: on anyone else, expect GRID words, not a real transcript.
"""


GIF_HOURS = 1.0  # mouth GIFs older than this are deleted (Gradio serves its own copy of each)


def _outputs_for(result: dict, work_dir: Path, video_path: str | None) -> tuple:
    for old in work_dir.glob("mouth-*.gif"):
        if time.time() - old.stat().st_mtime > GIF_HOURS * 3600:
            old.unlink(missing_ok=True)
    gif = analysis.mouth_gif(result["mouth"], work_dir / f"mouth-{uuid.uuid4().hex}.gif", fps=result["fps"])
    emotion = result.get("emotion_probs")
    details = {k: v for k, v in result.items() if k not in ("mouth", "vocab_tokens")}
    return (analysis.summary_markdown(result),
            analysis.transcript_html(result["text"], result["char_confidences"]),
            emotion,
            video_path,
            str(gif),
            analysis.emotion_figure(result) if emotion else None,
            analysis.nbest_rows(result["nbest"]),
            analysis.ctc_tokens_text(result["ctc_frame_ids"], result["vocab_tokens"]),
            details)


def _error_outputs(message: str) -> tuple:
    return analysis.error_markdown(message), "", None, None, None, None, [], "", None


def answer(models: analysis.Models, video: str | None, name: str | None, lip_model: str, emotion_model: str,
           max_mb: float, max_seconds: float, work_dir: Path) -> tuple:
    """Every output of the page for one video: its reading, or one line saying why there is none."""
    if not video:
        return _error_outputs("no video: pick a sample, upload a file or record one first")
    try:
        result = analysis.analyze(models, video, lip_model, emotion_model, max_mb, max_seconds, name=name)
    except analysis.InputError as e:
        return _error_outputs(str(e))
    except Exception as e:  # noqa: BLE001  (a video that breaks a library: one line in the page, the trace in the log)
        traceback.print_exc(file=sys.stderr)
        first_line = (str(e).strip().splitlines() or [""])[0][:200]
        return _error_outputs(f"{name or Path(video).name}: cannot read the video ({type(e).__name__}: {first_line})")
    shown = video if Path(video).suffix.lower() in (".mp4", ".webm", ".ogg") else None  # browsers play these
    return _outputs_for(result, work_dir, shown)


def build(models: analysis.Models | None = None, max_mb: float = analysis.MAX_MB,
          max_seconds: float = analysis.MAX_SECONDS, work_dir: str | Path | None = None) -> gr.Blocks:
    """The app's page (not launched). ``work_dir``: where the mouth GIFs go (default a temporary folder)."""
    models = models or analysis.Models()
    work_dir = Path(work_dir or tempfile.mkdtemp(prefix="lipkeras-app-"))
    samples = analysis.sample_videos()

    def read(video: str | None, name: str | None, lip_model: str, emotion_model: str):
        return answer(models, video, name, lip_model, emotion_model, max_mb, max_seconds, work_dir)

    def read_sample(sample: str, lip_model: str, emotion_model: str):
        path = next((str(s) for s in samples if s.name == sample), None)
        return read(path, sample, lip_model, emotion_model)

    def read_upload(upload: str | None, lip_model: str, emotion_model: str):
        return read(upload, Path(upload).name if upload else None, lip_model, emotion_model)

    def read_recording(recording: str | None, lip_model: str, emotion_model: str):
        return read(recording, "webcam recording", lip_model, emotion_model)

    # delete_cache: uploads and answers older than an hour leave Gradio's cache, checked hourly
    with gr.Blocks(title="lipkeras", analytics_enabled=False, delete_cache=(3600, 3600)) as page:
        gr.Markdown(INTRO.format(max_mb=max_mb, max_seconds=max_seconds))
        with gr.Row():
            with gr.Column(scale=2):
                with gr.Tabs():
                    with gr.Tab("Bundled sample"):
                        sample = gr.Dropdown([s.name for s in samples], value=samples[0].name if samples else None,
                                             label="GRID speaker 1 clip", elem_id="sample")
                        preview = gr.Video(str(samples[0]) if samples else None, label="preview", interactive=False,
                                           height=240)
                        sample_button = gr.Button("Read this sample", variant="primary", elem_id="read-sample")
                    with gr.Tab("Upload"):
                        upload = gr.File(label=f"a video (up to {max_mb:g} MB, {max_seconds:g} s)", type="filepath",
                                         elem_id="upload")
                        upload_button = gr.Button("Read the upload", variant="primary", elem_id="read-upload")
                    with gr.Tab("Webcam"):
                        recording = gr.Video(sources=["webcam"], label="record a few seconds, face to the camera",
                                             webcam_options=gr.WebcamOptions(mirror=False), include_audio=True,
                                             elem_id="recording")
                        recording_button = gr.Button("Read the recording", variant="primary", elem_id="read-recording")
                lip_model = gr.Radio(list(analysis.LIP_MODELS), value=analysis.LIP_MODELS[0], label="lip reader",
                                     elem_id="lip-model")
                emotion_model = gr.Radio(list(analysis.EMOTION_MODELS), value=analysis.EMOTION_MODELS[0],
                                         label="emotion model", elem_id="emotion-model")
            with gr.Column(scale=3):
                status = gr.Markdown("Pick, upload or record a video, then press its button.", elem_id="status")
                transcript = gr.HTML(label="transcript (colour: per-character confidence)", elem_id="transcript")
                emotion = gr.Label(label="facial emotion (mean over frames)", num_top_classes=3, elem_id="emotion")
                with gr.Row():
                    video = gr.Video(label="the video", interactive=False, height=240)
                    mouth = gr.Image(label="mouth crops the reader saw", type="filepath", interactive=False,
                                     height=240, elem_id="mouth")
                emotion_plot = gr.Plot(label="emotion over time", elem_id="emotion-plot")
                nbest = gr.Dataframe(headers=["rank", "text", "score"], label=f"n-best ({analysis.NBEST} best texts)",
                                     interactive=False, elem_id="nbest")
                tokens = gr.Textbox(label="raw CTC tokens (the best token of each frame)", lines=4, interactive=False,
                                    elem_id="ctc-tokens")
                with gr.Accordion("everything the API returned (JSON)", open=False):
                    details = gr.JSON()
        outputs = [status, transcript, emotion, video, mouth, emotion_plot, nbest, tokens, details]
        models_in = [lip_model, emotion_model]
        sample.change(lambda s: next((str(p) for p in samples if p.name == s), None), sample, preview,
                      api_visibility="private")
        sample_button.click(read_sample, [sample, *models_in], outputs, api_name="read_sample")
        upload_button.click(read_upload, [upload, *models_in], outputs, api_name="read_upload")
        recording_button.click(read_recording, [recording, *models_in], outputs, api_name="read_recording")
    page.lipkeras_work_dir = work_dir
    return page


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def launch(host: str = "127.0.0.1", port: int = 7860, max_mb: float = analysis.MAX_MB,
           max_seconds: float = analysis.MAX_SECONDS, concurrency: int = 2,
           preload: tuple[str, ...] = (analysis.LIP_MODELS[0], analysis.EMOTION_MODELS[0])) -> None:
    """Load the default models (``preload``: a lip reader and an emotion model, warmed up on a bundled
    sample), serve the page on ``host:port`` (0: a free port) until interrupted."""
    from lipkeras.paths import SAMPLES

    port = port or free_port(host)
    with socket.socket() as s:  # a taken port fails now, not after the models have loaded
        try:
            s.bind((host, port))
        except OSError as e:
            raise OSError(f"{host}:{port}: {e.strerror or e} (--port chooses another; 0: any free one)") from None
    models = analysis.Models()
    t0 = time.perf_counter()
    lip, emotion = preload
    samples = analysis.sample_videos()
    if samples:  # load and trace the default models on a sample: the first visitor does not wait for it
        analysis.analyze(models, samples[0], lip, emotion)
    print(f"lipkeras app: loaded {lip} and {emotion} in {time.perf_counter() - t0:.1f} s (the other models load "
          f"on first use)", flush=True)
    page = build(models, max_mb, max_seconds)
    page.queue(default_concurrency_limit=concurrency, max_size=64)
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],  # local fonts: no CDN
                              font_mono=["ui-monospace", "monospace"])
    page.launch(server_name=host, server_port=port, prevent_thread_lock=True, quiet=True, share=False,
                max_file_size=f"{max_mb:g}mb", allowed_paths=[str(SAMPLES), str(page.lipkeras_work_dir)],
                ssr_mode=False, footer_links=["api"], theme=theme, css=CSS, show_error=True)
    print(f"lipkeras app: listening on http://{host}:{port} (Ctrl-C stops it)", flush=True)
    try:
        page.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        page.close()
