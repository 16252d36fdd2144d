"""Per planet visit: one limb-darkened transit geometry fitted to the white light curves of every
instrument at once, then the depth (Rp/Rs)^2 of every channel (arielcal.science.visit_depths):
depths.csv, transit.json. The impact parameter comes from star_info (sma, i) when it exists."""

import dataclasses

import numpy as np

from arielcal import formats, science, science_io, star_info, steps

with steps.step(snakemake, "transit") as step:
    p, inputs = snakemake.params, snakemake.input
    curves = {}
    for instrument in p.instruments:
        key = instrument.replace("-", "_")
        curves[instrument] = science_io.read_light_curves(
            inputs[f"{key}_spectral"], inputs[f"{key}_white"], inputs[f"{key}_light_curves"]
        )
        centroid = formats.load_json(inputs[f"{key}_light_curves"]).get("centroid")  # rule extract's pointing measure
        curves[instrument] = dataclasses.replace(
            curves[instrument], centroid=None if centroid is None else np.array(centroid, dtype=float)
        )
    settings = science.Settings(**p.depth)
    impact = star_info.star_impact(p.star_info, snakemake.wildcards.planet) if settings.star_info else None
    fit = science.visit_depths(curves, settings, impact)
    for note in fit.notes:
        steps.log.warning(note)
    formats.write_csv(snakemake.output.depths, fit.rows)
    window = None if fit.window is None else dict(zip(("t1_h", "t2_h", "t3_h", "t4_h"), fit.window, strict=True))
    step.extra.update(window=window, geometry=fit.geometry, impact_from_star_info=impact, instruments=fit.summary)
    steps.log.info("window %s; geometry %s; %s", window, fit.geometry, fit.summary)
