"""Quiet runs: no TensorFlow or absl log line reaches the terminal unless ``--verbose``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dfimx.logs import filter_lines, is_native_log_line

#: absl / TensorFlow C++ lines, and TensorFlow's Python start-up chatter.
TF_LINE = re.compile(r"^(?:[IWEF]\d{4} |WARNING: All log messages before absl|"
                     r".*(?:cuda|cuInit|oneDNN|tensorflow/core|TF-TRT|absl::))")
REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("line", [
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    b"I0000 00:00:1796180066.091393    4809 cudart_stub.cc:31] Could not find cuda drivers",
    b"E0000 00:00:1796180075.152920    4809 cuda_platform.cc:52] failed call to cuInit: "
    b"INTERNAL: CUDA error",
    b"W1202 10:11:12.123456   17 gpu_device.cc:2344] Cannot dlopen some GPU libraries.",
])
def test_native_log_lines_are_recognised(line):
    assert is_native_log_line(line)


@pytest.mark.parametrize("line", [
    b"dfimx: error: x.zarr: store not found", b"Traceback (most recent call last):",
    b"I0 is not a log line", b"Interactions per pair", b"E. coli", b"WARNING: disk full",
])
def test_other_lines_pass(line):
    assert not is_native_log_line(line)


def test_filter_keeps_everything_else_in_order_even_split_across_writes():
    log = b"E0000 00:00:1796180075.152920    4809 cuda_platform.cc:52] failed call to cuInit\n"
    stream = b"start\n" + log + b"dfimx: 50%\rdfimx: 100%\n" + log + b"done"
    for cut in (1, 3, 7, 40, 90):
        chunks = [stream[i:i + cut] for i in range(0, len(stream), cut)]
        assert filter_lines(chunks) == b"start\ndfimx: 50%\rdfimx: 100%\ndone"


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONHASHSEED="0")
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the command must be quiet without it
    return env


def test_demo_prints_no_tensorflow_log_lines(demo_model, tmp_path):
    """The demo as a user runs it, in a subprocess (in-process: the worker processes inherit
    the same filtered stderr, checked by hand with --workers 2)."""
    out = tmp_path / "demo"
    out.mkdir()
    for suffix in ("", ".json"):
        shutil.copy(demo_model + suffix, out / ("model.keras" + suffix))
    proc = subprocess.run(
        [sys.executable, "-m", "dfimx", "demo", "-o", str(out), "-n", "24", "--workers", "0",
         "--no-progress"], capture_output=True, text=True, env=_env(), timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines() + proc.stderr.splitlines()
    assert [x for x in lines if TF_LINE.match(x)] == [], proc.stderr
    assert "[5/5] report" in proc.stdout and (out / "report.html").exists()


def test_verbose_shows_them_again(tmp_path):
    """A native log line written to file descriptor 2 after the command line starts (as
    TensorFlow's C++ code writes them) is dropped, unless --verbose; dfimx's own error
    line always gets through."""
    native = "I0000 00:00:1796180066.091393    4809 cudart_stub.cc:31] Could not find cuda"
    src = ("import os, sys; from dfimx.cli import main; "
           "rc = main(sys.argv[1:], quiet_logs=True); "
           f"os.write(2, b'{native}\\n'); sys.exit(rc)")
    runs = {}
    for name, flags in (("quiet", []), ("verbose", ["--verbose"])):
        runs[name] = subprocess.run(
            [sys.executable, "-c", src, *flags, "check", str(tmp_path / "none.zarr")],
            capture_output=True, text=True, env=_env(), timeout=300)
    for run in runs.values():
        assert run.returncode == 2 and "store not found" in run.stderr, run.stderr
    assert native not in runs["quiet"].stderr
    assert native in runs["verbose"].stderr
