"""The split's worst planet visits by their QC numbers (arielcal.qc.rank_visits), for the report:
the ranking table and, for those visits only, report-size copies of the per-visit QC figures."""

import csv
import os
import shutil
from pathlib import Path

from arielcal import formats, qc, science_io, steps

with steps.step(snakemake, "qc_worst"):
    with open(snakemake.input.table, newline="") as handle:
        rows = list(csv.DictReader(handle))
    kept = qc.rank_visits(rows, snakemake.params.worst_visits)
    formats.write_csv(snakemake.output.table, {name: [visit[name] for visit in kept] for name in qc.RANKING_COLUMNS})

    out = Path(snakemake.output.figures)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    width = len(str(max(len(kept), 1)))
    for visit in kept:
        planet, number = str(visit["planet_id"]), str(visit["visit"])
        instruments = [row["instrument"] for row in rows if (row["planet_id"], row["visit"]) == (planet, number)]
        view = science_io.visit_view_of_inputs(snakemake.input, snakemake.wildcards.split, planet, number, instruments)
        for name, make in qc.VISIT_FIGURES.items():
            qc.save_png(
                make(view),
                tmp / f"{visit['rank']:0{width}d}_{planet}_{number}_{name}.png",
                max_width_px=qc.REPORT_MAX_WIDTH_PX,
            )
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    steps.log.info("%d of the split's visits kept: %s", len(kept), [(v["planet_id"], v["visit"]) for v in kept])
