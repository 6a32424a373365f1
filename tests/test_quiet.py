"""Native stderr filtering: TF's known oneDNN notice is dropped from training output, nothing else."""

import subprocess
import sys

CHILD = r"""
import os, sys
from lipkeras import _quiet
print("before", file=sys.stderr, flush=True)
with _quiet.native_stderr_filtered():
    os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
    os.write(2, b"E0000 00:00:1733000000.123456   4242 mkl_util.h:1234] oneDNN supports DT_BOOL only on platforms "
                b"with AVX-512. Falling back to the default Eigen-based implementation if present.\n")
    os.write(2, b"E0000 00:00:1733000000.2   4242 other.cc:1] a real native error\n")
    print("python line", file=sys.stderr, flush=True)
print("after", file=sys.stderr, flush=True)
"""


def test_only_the_known_onednn_notice_is_filtered():
    r = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == ["before", "E0000 00:00:1733000000.2   4242 other.cc:1] a real native error",
                                     "python line", "after"]
