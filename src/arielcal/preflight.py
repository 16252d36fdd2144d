"""Checks made before any job runs: which observations cannot be calibrated, and why.

Only cheap checks (file presence, ADC rows): a rejected observation gets a job that fails with
its reason, so every other observation still runs under ``--keep-going``. Deeper checks
(shapes, dtypes, values) happen in the stage that reads the file.
"""

from __future__ import annotations

from . import formats, layout
from .errors import InputError
from .instruments import INSTRUMENTS


def rejections(data_dir, edition: int, observations: list[layout.Observation]) -> dict[layout.Observation, str]:
    """The observations that cannot be calibrated, with one clear reason each."""
    reasons: dict[layout.Observation, str] = {}
    adc_tables: dict[str, dict | InputError] = {}
    for obs in observations:
        missing = layout.missing_inputs(data_dir, edition, obs)
        if missing:
            more = f" (and {len(missing) - 1} more files of this observation)" if len(missing) > 1 else ""
            reasons[obs] = str(InputError(missing[0], "an existing file", "no such file")) + more
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
