"""Dataset versions: every build writes a new numbered folder (v001-reviewed, v002-file, ...), never over another.

A version folder holds the dataset files, report.json / report.md and version.json (what went in, the settings,
the counts). It is built under a hidden temporary name and renamed into place at the end, so an interrupted
build leaves no half-written version and every earlier version intact.
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from tools.dataset.build import build_dataset
from tools.dataset.normalize import CleanConfig
from tools.dataset.readers import MAX_FILE_BYTES
from tools.dataset.schema import AlpacaSample, ReviewedRow
from tools.dataset.split import eval_size
from tools.dataset.writers import FORMATS
from tools.errors import UserError
from tools.locks import exclusive

VERSION_FILE = "version.json"
CHOSEN_FILE = "build-settings.json"  # the build controls as the person last set them (beside the versions folder)
# Builds of one project take turns (lock file .datasets.lock beside the versions folder): a second waits this
# long for the first (a studio build takes seconds), then is told the project is busy.
BUILD_WAIT_S = 60.0
_VERSION_NAME = re.compile(r"v(\d{3,})-[a-z0-9-]+")


@dataclass(frozen=True)
class BuildSettings:
    """Every control the studio shows for a build; recorded in version.json."""

    fmt: str = "alpaca"
    eval_fraction: float = 0.1
    system: str = ""
    include_seeds: bool = True
    seed: int = 42

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise UserError(f"unknown format {self.fmt!r}; choose one of {', '.join(FORMATS)}")
        eval_size(2, self.eval_fraction)  # refuses a fraction outside [0, 1) with a clear message


def versions_root(project_dir: Path | str) -> Path:
    """Where a project's dataset versions live."""
    return Path(project_dir) / "datasets"


def list_versions(root: Path | str) -> list[dict]:
    """version.json of every finished version under root, newest first (temporary build folders are skipped)."""
    root = Path(root)
    found = []
    for folder in root.glob("v*") if root.is_dir() else []:
        meta = folder / VERSION_FILE
        if _VERSION_NAME.fullmatch(folder.name) and meta.is_file():
            found.append({**json.loads(meta.read_text(encoding="utf-8")), "path": str(folder)})
    return sorted(found, key=lambda v: v["number"], reverse=True)


def remember_chosen_settings(root: Path | str, settings: BuildSettings) -> None:
    """Keeps the build settings the person chose, for a build the journey starts by itself (the target reached)."""
    chosen = Path(root).with_name(CHOSEN_FILE)
    chosen.parent.mkdir(parents=True, exist_ok=True)
    staged = chosen.with_name(f".{CHOSEN_FILE}.partial")
    staged.write_text(json.dumps(asdict(settings)) + "\n", encoding="utf-8")
    staged.replace(chosen)  # atomic: never half a file


def chosen_settings(root: Path | str) -> BuildSettings | None:
    """The build settings the person last chose, else those of the newest version built from the review (chosen when
    it was built), else None: nobody chose any yet (an unreadable file counts as none)."""
    try:
        return BuildSettings(**json.loads(Path(root).with_name(CHOSEN_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, UserError):
        built = [v for v in list_versions(root) if v["source"] != "file"]  # a file's version read no seeds
        return BuildSettings(**built[0]["settings"]) if built else None


def inputs_in_words(version: dict) -> str:
    """What went into a version, as its card says it: '18 approved samples, 5 seeds' for a build from the review,
    'data.jsonl (120 rows)' for a file; sources that gave no row are left out."""
    parts = []
    for given in version.get("inputs", []):
        if not given.get("rows"):
            continue
        if given.get("format") in (None, "samples"):  # the review's own words: approved / edited samples, seeds
            parts.append(f"{given['rows']} {given['source']}")
        else:  # a file that was read
            parts.append(f"{Path(given['source']).name} ({given['rows']} rows)")
    return ", ".join(parts) or "nothing"


def latest_version_path(root: Path | str) -> Path | None:
    """The newest finished version folder (what training uses unless the person picks another), or None."""
    versions = list_versions(root)
    return Path(versions[0]["path"]) if versions else None


def build_version(
    inputs: list[Path] | list[str] | list[AlpacaSample] | list[ReviewedRow],
    root: Path | str,
    source: str,
    settings: BuildSettings,
    tag_counts: dict[str, int] | None = None,
    clean_config: CleanConfig | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    described_inputs: list[dict] | None = None,
) -> dict:
    """Builds a new version named after source ("reviewed", "file") and returns its report with "version" added.

    described_inputs: what went in, in words the person knows (e.g. counts of approved, edited and seed rows)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    busy = (f"another build of this project is writing a dataset version in {root}; nothing was built; try again "
            "when it has finished")
    with exclusive(root.with_name(f".{root.name}.lock"), busy, wait_s=BUILD_WAIT_S):  # each gets its own number
        for leftover in root.glob(".*v[0-9]*.partial*"):  # what killed builds left (none runs: we hold the lock)
            shutil.rmtree(leftover, ignore_errors=True)
        number = 1 + max((int(m.group(1)) for p in root.iterdir() if (m := _VERSION_NAME.fullmatch(p.name))),
                         default=0)
        name = f"v{number:03d}-{re.sub(r'[^a-z0-9]+', '-', source.lower()).strip('-') or 'build'}"
        final, partial = root / name, root / f".{name}.partial"
        try:
            report = build_dataset(inputs, partial, eval_fraction=settings.eval_fraction,
                                   system=settings.system or None, fmt=settings.fmt,  # type: ignore[arg-type]
                                   seed=settings.seed, clean_config=clean_config, max_bytes=max_bytes,
                                   tag_counts=tag_counts, final_dir=final)
            meta = {"name": name, "number": number, "source": source,
                    "created": datetime.now(UTC).isoformat(timespec="seconds"), "settings": asdict(settings),
                    "inputs": described_inputs or report["inputs"],
                    "counts": {key: report[key] for key in ("rows_read", "kept", "train", "eval", "dropped")},
                    "conflicts_unresolved": report["health"]["conflicting_answers"]["count"]}
            (partial / VERSION_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n",
                                                encoding="utf-8")
            partial.rename(final)  # atomic: the version appears complete or not at all
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    return {**report, "version": {**meta, "path": str(final)}}


def read_version_report(version_path: Path | str) -> dict:
    """report.json of a version folder, with its version.json as "version"."""
    folder = Path(version_path)
    try:
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        meta = json.loads((folder / VERSION_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{folder} is not a readable dataset version ({exc}); build a new one") from None
    return {**report, "version": {**meta, "path": str(folder)}}
