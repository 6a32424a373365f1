"""Silence the C++ start-up chatter of TensorFlow and MediaPipe.

Imported (for its side effect) before either library is loaded; users who want the logs
back set the variables themselves.
"""

import logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "2")


import contextlib  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402


@contextlib.contextmanager
def native_stderr_silenced():
    """Send file descriptor 2 to /dev/null for a block (C++ libraries that ignore the variables above).

    MediaPipe prints several lines to the raw stderr each time a landmarker is created; per
    video that would drown the one-line skip reasons users need to see.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (e.g. captured): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


# Native log lines known to be noise in a training run: oneDNN's one-time notice that it falls back
# to Eigen for DT_BOOL (and similar) ops on CPUs without AVX-512, and absl's preamble line before it.
KNOWN_NATIVE_NOISE = re.compile(rb"^(E0000 .*oneDNN supports DT_\w+ only on platforms with AVX-512"
                                rb"|WARNING: All log messages before absl::InitializeLog\(\) is called)")


@contextlib.contextmanager
def native_stderr_filtered(noise: "re.Pattern[bytes]" = KNOWN_NATIVE_NOISE):
    """Pass file descriptor 2 through a filter for a block: lines matching ``noise`` are dropped,
    every other line (Python's and C++'s alike) reaches the real stderr unchanged, in order."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (e.g. captured): nothing to filter
        yield
        return
    read_end, write_end = os.pipe()

    def forward():
        with os.fdopen(read_end, "rb") as pipe:
            for line in pipe:
                if not noise.match(line):
                    os.write(saved, line)

    thread = threading.Thread(target=forward, name="lipkeras-stderr-filter", daemon=True)
    thread.start()
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last write end: the thread drains it and ends
        thread.join(timeout=5)
        os.close(saved)


def import_tensorflow():
    """``import tensorflow`` without the start-up lines it writes to the raw stderr."""
    if "tensorflow" not in sys.modules:
        with native_stderr_silenced():
            import tensorflow  # noqa: F401
        # tf.function retracing notices (beam search feeds a few prefix shapes on purpose) are noise.
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return sys.modules["tensorflow"]
