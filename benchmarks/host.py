"""What machine a benchmark ran on: the CPU's model name and the bfloat16 units that change its figures.

The same code measured 1,441 faces/s on an Intel Xeon with AMX and 420 on an AMD EPYC without it
(two vCPUs each), so every results file names the CPU, not only the architecture.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path


def describe() -> str:
    """E.g. ``"AMD EPYC 9R14, 2 CPUs, bf16: avx512_bf16"`` (``/proc/cpuinfo`` where there is one)."""
    fields = {}  # the first CPU's "model name" and "flags"
    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text(errors="replace").splitlines():
            key, _, value = (part.strip() for part in line.partition(":"))
            if key in ("model name", "flags") and value:
                fields.setdefault(key, value)
    name = fields.get("model name") or platform.processor() or platform.machine()
    flags = set(fields.get("flags", "").split())
    bf16 = [f for f in ("amx_bf16", "avx512_bf16") if f in flags]
    return f"{name}, {os.cpu_count()} CPUs, bf16: {' + '.join(bf16) or 'none'}"
