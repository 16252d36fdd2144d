"""QC figures of one planet visit (arielcal.qc.VISIT_FIGURES), when report.all_visit_figures is on."""

from arielcal import qc, science_io, steps

with steps.step(snakemake, "qc_observation"):
    w = snakemake.wildcards
    view = science_io.visit_view_of_inputs(snakemake.input, w.split, w.planet, w.visit, snakemake.params.instruments)
    for name, make in qc.VISIT_FIGURES.items():
        qc.save_png(make(view), snakemake.output[name])
