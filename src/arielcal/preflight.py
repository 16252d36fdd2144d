"""Checks made before any job runs: defects of the whole dataset, which stop the run at once, and
the observations that cannot be calibrated, with why.

Only cheap checks: ``axis_info.parquet`` (one small file) and parquet footers, never pixel data;
and the ``.npy`` headers of the outputs an earlier run left, to rebuild the damaged ones.
A rejected observation gets a job that fails with its reason, so every other observation still
runs under ``--keep-going``. Checks of values happen in the stage that reads the file.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from . import files, formats, layout
from .errors import InputError
from .instruments import AIRS, INSTRUMENTS


def check_data_dir(data_dir) -> None:
    """A data_dir that is a file says what it is: a zip archive must be extracted first."""
    root = Path(data_dir)
    if root.is_file():
        if zipfile.is_zipfile(root) or root.suffix.lower() == ".zip":
            raise InputError(
                root,
                "a competition data directory",
                "a zip archive: extract it (unzip it into a folder) and set data_dir to that folder",
            )
        raise InputError(root, "a competition data directory", "a file (this path is a file, not a directory)")


def check_dataset(data_dir, instruments, binning: dict[str, int] | None) -> dict[str, int]:
    """Stop the run on a defect of the whole dataset: axis_info's columns (by name), interior
    NaN, lengths, and a binning larger than the observations (``binning`` None: no binning).
    Returns the raw frames of each instrument's observations (its time stamps)."""
    path = layout.axis_info_file(data_dir)
    axis = formats.read_axis_info(path)
    stamps = {name: axis[formats.AXIS_TIME.format(instrument=name)].size for name in INSTRUMENTS}
    wavelengths = axis[formats.AXIS_WAVELENGTH].size
    if wavelengths != AIRS.cols:
        raise InputError(
            path, f"{AIRS.cols} values in {formats.AXIS_WAVELENGTH!r} (one per AIRS-CH0 column)", f"{wavelengths}"
        )
    integration = axis[formats.AXIS_INTEGRATION].size
    if integration != stamps[AIRS.name]:
        raise InputError(
            path,
            f"as many {formats.AXIS_INTEGRATION!r} values as 'AIRS-CH0-axis0-h' time stamps ({stamps[AIRS.name]})",
            f"{integration}",
        )
    for name in instruments:
        if stamps[name] % 2:
            raise InputError(
                path, f"an even number of {name} time stamps (read pairs) in {name}-axis0-h", f"{stamps[name]}"
            )
        check_binning(path, name, stamps[name], binning)
    return stamps


def check_binning(where, instrument: str, n_frames: int, binning: dict[str, int] | None) -> None:
    """A time bin larger than an observation: no bin at all would come out."""
    if binning is not None and binning[instrument] > n_frames // 2:
        raise InputError(
            where,
            f"at least binning.{instrument} = {binning[instrument]} CDS frames per observation",
            f"{n_frames // 2} CDS frames ({n_frames} {instrument} raw frames)",
        )


def simulated_frames(simulation) -> dict[str, int]:
    """Raw frames per observation of the simulated demo dataset."""
    return {"AIRS-CH0": simulation.airs_frames, "FGS1": simulation.fgs1_frames}


def layout_problem(data_dir, edition: int, obs: layout.Observation, frames: int | None = None) -> InputError | None:
    """Why an observation's files cannot be read, from their parquet footers alone: map names,
    dtypes and row counts, and the signal's frame count against axis_info's ``frames``."""
    instrument = INSTRUMENTS[obs.instrument]
    args = (data_dir, edition, obs.split, obs.planet_id, obs.visit, obs.instrument)
    try:
        for kind in layout.CALIBRATION_MAPS:
            formats.check_calibration_layout(layout.calibration_file(*args, kind), instrument, kind)
        if frames is not None:
            formats.check_signal_frames(layout.signal_file(*args), instrument, frames)
    except InputError as exc:
        return exc
    return None


def check_layouts(data_dir, edition: int, observations, frames: dict[str, int] | None = None) -> None:
    """Stop the run when the files of the whole dataset have the wrong layout.

    Per split and instrument, the first observation's footers are read and, if they are wrong,
    the last one's: the same file wrong in the same way in both is a defect of the dataset (maps
    written with another shape, an axis_info of other data), reported at once. A defect of one observation only is left to
    the stage that reads it, so every other observation still runs. At most two observations
    per split and instrument, whatever the dataset's size.
    """
    groups: dict[tuple[str, str], list[layout.Observation]] = {}
    for obs in observations:
        groups.setdefault((obs.split, obs.instrument), []).append(obs)
    for (_, name), group in sorted(groups.items()):
        n_frames = None if frames is None else frames.get(name)
        first = layout_problem(data_dir, edition, group[0], n_frames)
        if first is None:
            continue
        if len(group) == 1:
            raise first
        last = layout_problem(data_dir, edition, group[-1], n_frames)
        if last is not None and (Path(last.path).name, last.expected) == (Path(first.path).name, first.expected):
            raise InputError(
                first.path, first.expected, f"{first.found} (and so does the last of its {len(group)} observations)"
            )


def _missing_reason(data_dir, obs: layout.Observation, missing: list[Path]) -> str:
    """Why the first missing input of an observation is missing, in words."""
    folder = layout.planet_dir(data_dir, obs.split, obs.planet_id)
    if not folder.is_dir():
        # A planet folder named with leading zeros ('0785834') gives the id 785834, whose folder
        # does not exist: name the real folder.
        real = [
            entry.path
            for entry in os.scandir(folder.parent)
            if entry.is_dir() and layout.PLANET_DIR.match(entry.name) and int(entry.name) == obs.planet_id
        ]
        if real:
            return str(
                InputError(
                    real[0],
                    f"a planet folder named {obs.planet_id} (its integer id, no leading zeros)",
                    f"{os.path.basename(real[0])!r}: rename it to {obs.planet_id}",
                )
            )
    more = f" (and {len(missing) - 1} more files of this observation)" if len(missing) > 1 else ""
    if missing[0].is_dir():
        return (
            str(InputError(missing[0], "an existing file", "a directory (this path is a directory, not a file)")) + more
        )
    return str(InputError(missing[0], "an existing file", "no such file")) + more


def rejections(data_dir, edition: int, observations: list[layout.Observation]) -> dict[layout.Observation, str]:
    """The observations that cannot be calibrated, with one clear reason each."""
    reasons: dict[layout.Observation, str] = {}
    adc_tables: dict[str, dict | InputError] = {}
    for obs in observations:
        missing = layout.missing_inputs(data_dir, edition, obs)
        if missing:
            reasons[obs] = _missing_reason(data_dir, obs, missing)
            continue
        adc_path = str(layout.adc_info_file(data_dir, edition, obs.split))
        if adc_path not in adc_tables:
            try:
                adc_tables[adc_path] = formats.read_adc_table(adc_path)
            except InputError as exc:
                adc_tables[adc_path] = exc
        table = adc_tables[adc_path]
        try:
            if isinstance(table, InputError):
                raise table
            formats.adc_constants(table, obs.planet_id, INSTRUMENTS[obs.instrument], adc_path)
        except InputError as exc:
            reasons[obs] = str(exc)
    return reasons


def damaged_outputs(candidates) -> dict[str, str]:
    """The existing ``.npy`` files among ``candidates`` (outputs of an earlier run) that are not
    complete arrays, with why (``files.npy_damage``): path -> damage. Missing files are skipped.
    Headers only: one open and one read per file."""
    found = {}
    for path in candidates:
        damage = files.npy_damage(path, missing_ok=True)
        if damage is not None:
            found[path] = damage
    return found
