"""Per-split QC: a table of every observation (flagged-pixel counts from the product metadata,
the visit's transit window, white-light-curve depth and noise) and a summary figure."""

import numpy as np

from arielcal import formats, qc, steps

with steps.step(snakemake, "qc_split"):
    inputs, params = snakemake.input, snakemake.params
    transits = {tuple(key): formats.load_json(path) for key, path in zip(params.visits, inputs.transit, strict=True)}
    rows, curves = [], []
    for key, meta, light_curves, white in zip(
        params.observations, inputs.meta, inputs.light_curves, inputs.white, strict=True
    ):
        white = formats.load_npy(white)
        rows.append(qc.observation_row(key, formats.load_json(meta), white, transits[tuple(key[:3])]))
        time_h = np.asarray(formats.load_json(light_curves)["time_h"])
        curves.append((f"{key[1]}/{key[2]} {key[3]}", time_h, white[0]))
    formats.write_csv(snakemake.output.table, {name: [row[name] for row in rows] for name in qc.OBSERVATION_COLUMNS})
    qc.save_png(
        qc.split_summary_figure(snakemake.wildcards.split, rows, curves, len(transits)),
        snakemake.output.figure,
        dpi=110,
    )
    steps.log.info("%d observations", len(rows))
