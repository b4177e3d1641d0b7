"""Workspace files only their owner can read, and the key that signs sessions.

A workspace holds every contact detail (``mapper.gpkg``), password hashes and the audit
trail (``mapper-app.sqlite``), and the key that signs session cookies (``secret``):
anyone who can read the key can forge an administrator's session. So everything mapper
creates in a workspace, and in a backup, is made owner-only: directories
:data:`DIR_MODE` (0700), files :data:`FILE_MODE` (0600). SQLite gives a database's
``-wal`` and ``-shm`` files the database file's mode.

:func:`exposed` lists what others can read (checked when the web app starts, each with
the ``chmod`` that fixes it); mapper does not change the modes of files it did not
create.

The session key lives in its own file, apart from the databases that backups copy, so a
backup never holds it; :func:`rotate_secret` replaces it (``mapper secret rotate``).
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
SECRET_FILE = "secret"
#: the files of a workspace (and of a backup) that must not be readable by others
PRIVATE_NAMES = ("mapper.gpkg", "mapper-app.sqlite", "mapper-app.sqlite-wal",
                 "mapper-app.sqlite-shm", SECRET_FILE)


def private_dir(path: str | os.PathLike) -> Path:
    """Create the directory (and missing parents) owner-only; an existing one is kept as
    it is (:func:`exposed` reports it)."""
    path = Path(path)
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        os.chmod(path, DIR_MODE)  # mkdir's mode is masked by the umask
    return path


def private_file(path: str | os.PathLike) -> Path:
    """Create the file empty and owner-only if it is missing; make it owner-only."""
    path = Path(path)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def exposed(directory: str | os.PathLike) -> list[str]:
    """One line per workspace file or directory others may read, saying how to fix it."""
    directory = Path(directory)
    problems = []
    paths = [directory, *(directory / name for name in PRIVATE_NAMES)]
    for path in paths:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            wanted = DIR_MODE if path.is_dir() else FILE_MODE
            who = " and ".join(w for w, bits in (("its group", 0o070), ("others", 0o007))
                               if mode & bits)
            problems.append(
                f"{path} can be read or changed by {who} (mode {mode:04o}): it holds "
                f"{_holds(path.name, directory)}; run 'chmod {wanted:o} {path}'")
    return problems


def _holds(name: str, directory: Path) -> str:
    if name == SECRET_FILE:
        return "the key that signs sessions (with it anyone can sign in as anyone)"
    if name == directory.name:
        return "the workspace (contacts, users, the session key)"
    if name.startswith("mapper-app"):
        return "password hashes, edits and the audit trail"
    return "every group's contact details"


def read_secret(directory: str | os.PathLike, *, initial: str | None = None) -> str:
    """The session key of the workspace, created (from `initial`, or random) if missing."""
    path = Path(directory) / SECRET_FILE
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        text = ""
    if not text:
        _write_secret(Path(directory), initial or secrets.token_hex(32), replace=False)
        text = path.read_text(encoding="ascii").strip()
    return text


def rotate_secret(directory: str | os.PathLike) -> None:
    """Replace the session key with a new random one (every session cookie dies)."""
    _write_secret(Path(directory), secrets.token_hex(32), replace=True)


def _write_secret(directory: Path, value: str, *, replace: bool) -> None:
    """Write the key through an owner-only temporary file: renamed over the old key, or
    (`replace` False) linked into place only if no other process made one first."""
    private_dir(directory)
    tmp = directory / f".{SECRET_FILE}-{os.getpid()}-{secrets.token_hex(4)}"
    private_file(tmp)
    try:
        with open(tmp, "w", encoding="ascii") as handle:
            handle.write(value + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, directory / SECRET_FILE)
        else:
            try:
                os.link(tmp, directory / SECRET_FILE)
            except FileExistsError:
                pass  # another process was first: use its key
    finally:
        tmp.unlink(missing_ok=True)


def secret_version(directory: str | os.PathLike) -> tuple[int, int]:
    """Changes when the key file is replaced ((0, 0) when there is none)."""
    try:
        info = (Path(directory) / SECRET_FILE).stat()
    except FileNotFoundError:
        return (0, 0)
    return (info.st_ino, info.st_mtime_ns)
