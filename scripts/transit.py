"""Per planet visit: one transit window fitted to the white light curves of every instrument at
once, then the depth of every channel (arielcal.science.visit_depths): depths.csv, transit.json."""

from arielcal import formats, science, science_io, steps

with steps.step(snakemake, "transit") as step:
    p, inputs = snakemake.params, snakemake.input
    curves = {}
    for instrument in p.instruments:
        key = instrument.replace("-", "_")
        curves[instrument] = science_io.read_light_curves(inputs[f"{key}_spectral"], inputs[f"{key}_white"], inputs[f"{key}_light_curves"])
    fit = science.visit_depths(curves, p.margin_bins, p.baseline_degree)
    for note in fit.notes:
        steps.log.warning(note)
    formats.write_csv(snakemake.output.depths, fit.rows)
    window = None if fit.window is None else dict(zip(("t1_h", "t2_h", "t3_h", "t4_h"), fit.window.contacts, strict=True))
    step.extra.update(window=window, instruments=fit.summary)
    steps.log.info("window %s; %s", window, fit.summary)
