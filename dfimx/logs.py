"""Quiet runs: TensorFlow's and absl's log lines kept off the terminal unless asked for.

TensorFlow 2.21 logs through absl from C++ before any Python code can configure it
(``WARNING: All log messages before absl::InitializeLog() ...``, ``I0000 ...
cudart_stub.cc:31] Could not find cuda drivers``, ``E0000 ... failed call to cuInit``),
and ``TF_CPP_MIN_LOG_LEVEL`` no longer silences those lines.  :func:`quiet_native_logs`
therefore filters them where they are written: file descriptor 2 becomes a pipe read by
a thread that drops the lines in absl's format and passes everything else on to the
real stderr, unchanged.  Python's own ``sys.stderr`` (tracebacks, progress bars,
messages) writes to the real stderr directly, so nothing of dfimx's is delayed or lost.
Processes started afterwards (local Dask workers) inherit the filtered descriptor.  It
also sets ``TF_CPP_MIN_LOG_LEVEL=2`` and quiets the ``tensorflow`` and ``absl`` Python
loggers for the lines they would print.

Every entry point calls it once (the ``dfimx`` command unless ``--verbose``; notebooks may
call it in their first cell).

Examples
--------
>>> is_native_log_line(b"E0000 00:00:1796180101.669305    5161 cuda_platform.cc:52] "
...                    b"failed call to cuInit: INTERNAL")
True
>>> is_native_log_line(b"wrote out.zarr")
False
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from typing import BinaryIO

#: The lines absl and TensorFlow's C++ logging write: ``I0000 00:00:... file.cc:31] text``
#: and absl's notice that logging is not initialised yet.
NATIVE_LOG_LINE = re.compile(
    rb"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+\s+\S+:\d+\]"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
    rb"STDERR)"
)
#: Python loggers of TensorFlow and absl, set to errors only.
PYTHON_LOGGERS = ("tensorflow", "absl", "h5py._conv")

_STATE: dict[str, object] = {}
_LOCK = threading.Lock()


def is_native_log_line(line: bytes) -> bool:
    """True when ``line`` is one of the TensorFlow / absl C++ log lines.

    Examples
    --------
    >>> is_native_log_line(b"WARNING: All log messages before absl::InitializeLog() is "
    ...                    b"called are written to STDERR")
    True
    >>> is_native_log_line(b"I0000 not a log line")
    False
    """
    return NATIVE_LOG_LINE.match(line) is not None


def _may_become_log_line(partial: bytes) -> bool:
    """True when an unfinished line could still turn out to be a native log line."""
    if not partial:
        return False
    if partial[:1] in b"IWEF" and (len(partial) < 2 or partial[1:2].isdigit()):
        return True
    notice = b"WARNING: All log messages"
    return notice.startswith(partial[: len(notice)])


def filter_lines(chunks: list[bytes]) -> bytes:
    """What the filter passes on of ``chunks`` written to stderr (whole stream, in order).

    Examples
    --------
    >>> filter_lines([b"I0000 00:00:17.1   5 a.cc:3] hi\\nkept\\n", b"progress 5%\\r"])
    b'kept\\nprogress 5%\\r'
    """
    out, rest = [], b""
    for chunk in chunks:
        passed, rest = _split(rest + chunk)
        out.append(passed)
    if rest and not is_native_log_line(rest):
        out.append(rest)
    return b"".join(out)


def _split(buf: bytes) -> tuple[bytes, bytes]:
    """(bytes to pass on now, bytes held back until their line is complete)."""
    *lines, rest = buf.split(b"\n")
    passed = b"".join(line + b"\n" for line in lines if not is_native_log_line(line))
    if rest and not _may_become_log_line(rest):
        passed, rest = passed + rest, b""
    return passed, rest


def _pump(read_fd: int, out: BinaryIO) -> None:
    rest = b""
    while True:
        try:
            chunk = os.read(read_fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        passed, rest = _split(rest + chunk)
        if passed:
            try:
                out.write(passed)
                out.flush()
            except (OSError, ValueError):
                return
    if rest and not is_native_log_line(rest):
        out.write(rest)
        out.flush()


def quiet_python_loggers() -> None:
    """Errors only from the ``tensorflow`` and ``absl`` Python loggers."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in PYTHON_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def quiet_native_logs() -> bool:
    """Filter TensorFlow's and absl's log lines out of this process's stderr (once).

    Call it before TensorFlow is imported (lines written earlier are already out).
    Returns True when the filter was installed by this call, False when it already was
    or cannot be (stderr is not a file descriptor, as under some notebook front ends:
    then only the Python loggers are quieted).

    Examples
    --------
    >>> quiet_native_logs()   # doctest: +SKIP
    True
    """
    quiet_python_loggers()
    with _LOCK:
        if _STATE:
            return False
        try:
            sys.stderr.flush()
            real = os.dup(2)
        except (OSError, AttributeError, ValueError):
            return False
        read_fd, write_fd = os.pipe()
        out = os.fdopen(real, "wb", buffering=0)
        # Python's stderr keeps writing to the terminal itself, unfiltered and undelayed
        text = open(os.dup(real), "w", buffering=1, encoding=getattr(  # noqa: SIM115
            sys.stderr, "encoding", None) or "utf-8", errors="backslashreplace")
        os.dup2(write_fd, 2)
        os.close(write_fd)
        sys.stderr = text
        thread = threading.Thread(target=_pump, args=(read_fd, out), daemon=True,
                                  name="dfimx-native-log-filter")
        thread.start()
        _STATE.update(thread=thread, real=real, text=text)
        return True


__all__ = ["NATIVE_LOG_LINE", "filter_lines", "is_native_log_line", "quiet_native_logs",
           "quiet_python_loggers"]
