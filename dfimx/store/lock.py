"""One writer per store: an exclusive lock file beside the store for the whole run.

A run that writes ``run.zarr`` first takes ``run.zarr.lock`` (beside the store, so that
it also covers ``run.zarr.partial``, where a replacement is written).  The lock file
holds the owner's pid, host, run id and start time; a second writer is refused with one
line naming the store and the owner.

Local paths use an advisory ``flock`` on the lock file: the kernel releases it when the
owner dies, however it dies (SIGKILL included), so a lock left by a dead process is
recognised as stale and taken over, and a live owner is never mistaken for a dead one
(no pid-reuse guesswork).  Where the filesystem refuses ``flock`` the lock file is
created with ``O_CREAT | O_EXCL`` and a lock whose pid is dead on this host is stale.
On fsspec URLs the lock is created with the filesystem's exclusive create where it has
one (S3's conditional put, ``memory://``), otherwise written and read back; a lock of a
dead pid on this host is stale, and a lock from another host is only released by its
owner (or by deleting the file).

Examples
--------
>>> import tempfile
>>> path = tempfile.mkdtemp() + "/run.zarr"
>>> with acquire_lock(path, None, run_id="r1") as lock:
...     owner(path, None)["run_id"]
'r1'
>>> owner(path, None) is None
True
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from dfimx.errors import InputError
from dfimx.store.location import StorageOptions, filesystem, is_url, local_path

try:  # POSIX; elsewhere the O_EXCL protocol is used
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def new_run_id() -> str:
    """A fresh run id (12 hex digits).

    Examples
    --------
    >>> len(new_run_id())
    12
    """
    return uuid.uuid4().hex[:12]


def lock_path(path: str) -> str:
    """Where the lock of the store at ``path`` lives: ``<store>.lock`` beside it.

    Local paths are resolved first, so two spellings of one store share one lock.

    Examples
    --------
    >>> lock_path("s3://bucket/run.zarr/")
    's3://bucket/run.zarr.lock'
    """
    if is_url(path):
        return path.rstrip("/") + ".lock"
    return os.path.realpath(local_path(path)).rstrip("/") + ".lock"


def _info(run_id: str, path: str) -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "run_id": run_id,
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "store": path}


def _describe(info: dict[str, Any] | None) -> str:
    if not info:
        return "another dfimx run (starting)"
    return (f"run {info.get('run_id', '?')} (pid {info.get('pid', '?')} on "
            f"{info.get('host', '?')}, started {info.get('started', '?')})")


def _parse(data: bytes) -> dict[str, Any] | None:
    try:
        info = json.loads(data.decode() or "null")
    except (UnicodeDecodeError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _pid_alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError, OverflowError):
        return True  # someone else's process, or an unreadable pid: assume alive
    return True


def _is_stale(info: dict[str, Any] | None) -> bool:
    """A lock whose owner is provably dead: its pid is gone on this host."""
    return bool(info) and info.get("host") == socket.gethostname() and not _pid_alive(
        info.get("pid"))


def _refuse(path: str, info: dict[str, Any] | None, lock: str) -> InputError:
    return InputError(f"{path}: in use by {_describe(info)}; refusing a second writer "
                      f"(if that run is gone, delete {lock})")


class StoreLock:
    """An acquired lock (see :func:`acquire_lock`); ``release`` removes the lock file."""

    def __init__(self, path: str, lock: str, info: dict[str, Any], *, fd: int | None = None,
                 storage_options: StorageOptions = None,
                 previous: dict[str, Any] | None = None) -> None:
        self.path, self.lock, self.info, self.fd = path, lock, info, fd
        self.storage_options = storage_options
        #: The owner of a stale lock that this one took over (None when the lock was free).
        self.previous = previous

    @property
    def run_id(self) -> str:
        """The run id of the owner."""
        return str(self.info["run_id"])

    def release(self) -> None:
        """Remove the lock file (only if it is still this run's) and drop the lock."""
        if is_url(self.path):
            with contextlib.suppress(Exception):
                fs, root = filesystem(self.lock, self.storage_options)
                if (_parse(fs.cat_file(root)) or {}).get("run_id") == self.run_id:
                    fs.rm_file(root)
            return
        with contextlib.suppress(OSError):
            with open(self.lock, "rb") as f:
                mine = (_parse(f.read()) or {}).get("run_id") == self.run_id
            if mine:
                os.unlink(self.lock)
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None

    def __enter__(self) -> StoreLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _os_error(path: str, lock: str, exc: OSError) -> InputError:
    return InputError(f"{path}: cannot create the lock file {lock}: "
                      f"{exc.strerror or exc} (is the output folder writable?)")


def _write(fd: int, info: dict[str, Any]) -> None:
    data = json.dumps(info, sort_keys=True).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
    os.fsync(fd)


def _acquire_flock(path: str, lock: str, info: dict[str, Any]) -> StoreLock | None:
    """The flock protocol; None when the filesystem does not support flock."""
    for _ in range(20):
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _os_error(path, lock, exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner_info = None
            for _ in range(20):  # the owner may not have written its details yet
                owner_info = _parse(os.pread(fd, 1 << 16, 0))
                if owner_info:
                    break
                time.sleep(0.05)
            os.close(fd)
            raise _refuse(path, owner_info, lock) from None
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                return None
            raise _os_error(path, lock, exc) from exc
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # the previous owner removed the file between our open and flock
            os.close(fd)
            continue
        previous = _parse(os.pread(fd, 1 << 16, 0))
        if previous and previous.get("host") != info["host"]:
            # flock may not reach across hosts (NFS): do not take over a remote owner
            os.close(fd)
            raise _refuse(path, previous, lock)
        try:
            _write(fd, info)
        except OSError as exc:
            os.close(fd)
            raise _os_error(path, lock, exc) from exc
        return StoreLock(path, lock, info, fd=fd, previous=previous)
    raise InputError(f"{path}: could not take the lock {lock} (it keeps changing owner)")


def _acquire_excl(path: str, lock: str, info: dict[str, Any]) -> StoreLock:
    """The O_EXCL protocol (no flock): an existing lock of a dead local pid is stale."""
    previous = None
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                with open(lock, "rb") as f:
                    current = _parse(f.read())
            except FileNotFoundError:
                continue
            if not _is_stale(current):
                raise _refuse(path, current, lock) from None
            previous = current
            stale = f"{lock}.stale-{os.getpid()}"
            try:  # move the stale lock aside (one taker wins), then create ours
                os.rename(lock, stale)
                with open(stale, "rb") as f:
                    moved = _parse(f.read())
                os.unlink(stale)
            except FileNotFoundError:
                continue
            if moved != current:  # we moved a fresh lock: its owner is alive
                raise _refuse(path, moved, lock) from None
            continue
        except OSError as exc:
            raise _os_error(path, lock, exc) from exc
        try:
            _write(fd, info)
        finally:
            os.close(fd)
        return StoreLock(path, lock, info, previous=previous)
    raise InputError(f"{path}: could not take the lock {lock} (it keeps changing owner)")


def _acquire_url(path: str, lock: str, info: dict[str, Any],
                 storage_options: StorageOptions) -> StoreLock:
    fs, root = filesystem(lock, storage_options)
    data = json.dumps(info, sort_keys=True).encode()
    previous = None
    for _ in range(3):
        try:
            fs.pipe_file(root, data, mode="create")
        except FileExistsError:
            pass
        except TypeError:  # no exclusive create on this filesystem: check, write, read back
            if not fs.exists(root):
                fs.pipe_file(root, data)
        except Exception as exc:  # noqa: BLE001 - botocore's PreconditionFailed and the like
            if "Precondition" not in type(exc).__name__ + str(exc):
                raise InputError(f"{path}: cannot create the lock file {lock}: {exc}") from exc
        fs.invalidate_cache()
        current = _parse(fs.cat_file(root))
        if current and current.get("run_id") == info["run_id"]:
            return StoreLock(path, lock, info, storage_options=storage_options,
                             previous=previous)
        if not _is_stale(current):
            raise _refuse(path, current, lock)
        previous = current
        fs.rm_file(root)
    raise InputError(f"{path}: could not take the lock {lock} (it keeps changing owner)")


def acquire_lock(path: str, storage_options: StorageOptions = None, *,
                 run_id: str | None = None) -> StoreLock:
    """Take the exclusive write lock of the store at ``path`` (a context manager).

    Parameters
    ----------
    path
        The store (local path or fsspec URL); the lock is ``<path>.lock`` beside it.
    storage_options
        fsspec options for URLs.
    run_id
        The run's id (default: a new one), recorded in the lock file.

    Raises
    ------
    InputError
        When another live run holds the lock (the message names it), or the lock file
        cannot be created (read-only folder, ...).

    Examples
    --------
    >>> import tempfile
    >>> path = tempfile.mkdtemp() + "/run.zarr"
    >>> with acquire_lock(path, None) as lock:
    ...     acquire_lock(path, None)
    Traceback (most recent call last):
    ...
    dfimx.errors.InputError: ...: in use by run ...; refusing a second writer (...)
    """
    path = str(path)
    lock = lock_path(path)
    info = _info(run_id or new_run_id(), path)
    if is_url(path):
        return _acquire_url(path, lock, info, storage_options)
    if fcntl is not None:
        held = _acquire_flock(path, lock, info)
        if held is not None:
            return held
    return _acquire_excl(path, lock, info)


def owner(path: str, storage_options: StorageOptions = None) -> dict[str, Any] | None:
    """The details in the lock file of ``path`` (pid, host, run id, start), or None.

    Examples
    --------
    >>> owner("no-such-store.zarr") is None
    True
    """
    lock = lock_path(str(path))
    try:
        if is_url(str(path)):
            fs, root = filesystem(lock, storage_options)
            return _parse(fs.cat_file(root))
        with open(lock, "rb") as f:
            return _parse(f.read())
    except (OSError, FileNotFoundError):
        return None


@contextlib.contextmanager
def locked(path: str, storage_options: StorageOptions = None, *,
           run_id: str | None = None) -> Iterator[StoreLock]:
    """``with locked(path) as lock:`` -- :func:`acquire_lock`, released on exit."""
    held = acquire_lock(path, storage_options, run_id=run_id)
    try:
        yield held
    finally:
        held.release()


__all__ = ["StoreLock", "acquire_lock", "lock_path", "locked", "new_run_id", "owner"]
