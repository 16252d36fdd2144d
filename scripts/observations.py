"""Row order of the per-split stacks: one (planet_id, visit) per row."""

from pathlib import Path

from arielcal import formats

rows = snakemake.params.rows
formats.write_csv(
    snakemake.output[0],
    {"planet_id": [p for p, _ in rows], "visit": [v for _, v in rows]},
)
Path(snakemake.log[0]).write_text(f"{len(rows)} rows\n")
