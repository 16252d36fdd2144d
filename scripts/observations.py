"""Row order of the per-split stacks: one (planet_id, visit) per row, and per instrument whether
its row is real (``calibrated``) or NaN (``failed``; the reason is in failed_observations.csv)."""

from pathlib import Path

from arielcal import failures, formats, stacks

split = snakemake.wildcards.split
records = failures.latest("logs")
by_instrument = {
    instrument: stacks.rows_of(slots, split, instrument, records)
    for instrument, slots in snakemake.params.slots.items()
}
columns = stacks.table(snakemake.params.rows, by_instrument)
formats.write_csv(snakemake.output[0], columns)
Path(snakemake.log[0]).write_text(f"{len(snakemake.params.rows)} rows\n")
