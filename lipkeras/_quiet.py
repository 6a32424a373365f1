"""Silence the C++ start-up chatter of TensorFlow and MediaPipe.

Imported (for its side effect) before either library is loaded; users who want the logs
back set the variables themselves.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "2")
