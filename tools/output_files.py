"""Where a command writes what it makes. The rule: a command never replaces a file it did not create in that run;
it refuses, naming the file (usage, exit 2), unless the person passes --force. What it writes is made in a
temporary folder beside the target and moved into place at the end, so a killed command leaves no half-written
output; the next run clears what a killed one left (its temporary folder names a process that is gone)."""
from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tools.errors import UserError

_STAGE = ".tunesmith-partial-"  # + pid: the temporary folder or file of one running command


def refuse_existing(paths: Iterable[Path], force: bool, flag: str = "--out") -> None:
    """UserError naming the files that already exist, unless force (the person said to replace them)."""
    existing = [str(path) for path in paths if path.exists() or path.is_symlink()]
    if existing and not force:
        shown = ", ".join(existing[:5]) + (f" and {len(existing) - 5} more" if len(existing) > 5 else "")
        raise UserError(f"{shown} already exist{'s' if len(existing) == 1 else ''} and would be replaced; nothing "
                        f"was written: choose another {flag}, move {'it' if len(existing) == 1 else 'them'} "
                        "aside, or pass --force to replace them")


def stage_path(target: Path) -> Path:
    """This process's temporary name for target, beside it (same file system, so the final rename is atomic)."""
    return target.with_name(f".{target.name}{_STAGE}{os.getpid()}")


def clear_leftovers(target: Path, marker: str = _STAGE) -> list[Path]:
    """Removes what killed runs left beside target (their temporary files and folders, named .TARGET + marker +
    the pid of a process that is gone); returns them."""
    removed = []
    parent = target.parent
    if not parent.is_dir():
        return removed
    for path in parent.glob(f".{_escape(target.name)}{marker}*"):
        pid = path.name.rsplit(marker, 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextmanager
def staged_folder(out: Path, force: bool = False) -> Iterator[Path]:
    """A fresh temporary folder to build into; on success its files move into out (created if missing: then the
    whole folder is renamed into place at once). Files of out that the build does not make are left alone; one it
    makes that out already has is refused beforehand by the caller (refuse_existing) or replaced under force."""
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} already exists and is not a folder; choose another --out folder")
    clear_leftovers(out)
    stage = stage_path(out)
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        yield stage
        _move_into(stage, out, force)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _move_into(stage: Path, out: Path, force: bool) -> None:
    if not out.exists() and not out.is_symlink():
        try:
            stage.rename(out)  # out did not exist: the whole result appears at once
            return
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):  # another program made it meanwhile
                raise
    made = sorted(path for path in stage.iterdir())
    refuse_existing([out / path.name for path in made], force)  # a file that appeared while we built
    for path in made:
        if (out / path.name).is_dir() and not (out / path.name).is_symlink():
            shutil.rmtree(out / path.name)
        os.replace(path, out / path.name)


def check_new_file(path: Path, force: bool = False) -> None:
    """UserError unless path can take a new file: not a folder, and not an existing file unless force."""
    if path.is_dir():
        raise UserError(f"{path} is a folder; give a file path, e.g. --out {path / 'batch.json'}")
    refuse_existing([path], force)


def write_new_file(path: Path, write: Callable[[Path], object], force: bool = False) -> None:
    """Writes path through write(temporary path) and puts it in place at once: never over a file that exists
    unless force (also when another program creates it meanwhile)."""
    check_new_file(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    clear_leftovers(path)
    temporary = stage_path(path)
    try:
        write(temporary)
        if force:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)  # fails if path appeared meanwhile: nothing is replaced
            except FileExistsError:
                refuse_existing([path], force)
            except OSError:  # a file system without hard links: the check above is the guard
                os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _escape(name: str) -> str:
    """name with glob's special characters taken literally."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def add_force_option(parser) -> None:
    """--force: the one way to let a command replace files that already exist where it writes."""
    parser.add_argument("--force", action="store_true",
                        help="replace files that already exist where the command writes (default: refuse)")
