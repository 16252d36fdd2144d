"""Injection-recovery of one split: the depths of every planet visit (rule transit) against the
injected truth (simulation_truth.csv, label order) or the training labels, when available.

depths.csv (every channel, with truth and z = residual / sigma), recovery.csv (arielcal.recovery
statistics per instrument and overall) and recovery.png.
"""

from arielcal import formats, qc, recovery, science_io, steps

with steps.step(snakemake, "recovery"):
    split, inputs = snakemake.wildcards.split, snakemake.input
    truth = science_io.read_truth(list(inputs.truth), split)
    tables = [science_io.read_depths(path) for path in inputs.depths]
    windows = [formats.load_json(path)["window"] for path in inputs.transit]
    depths, contact_errors = recovery.join_truth(snakemake.params.visits, tables, windows, truth)
    formats.write_csv(snakemake.output.depths, {name: depths[name].to_list() for name in depths.columns})
    naive = recovery.naive_prediction(science_io.read_truth(list(inputs.truth), "train") or truth)
    summary = recovery.summarize(split, depths, contact_errors, naive)
    formats.write_csv(snakemake.output.summary, summary)
    for i, instrument in enumerate(summary["instrument"]):
        steps.log.info(
            "%s %s (%s SNR): n %d, median |z| %.3f, chi2/dof %.3f, mean z %+.3f, GLL score %.3f",
            split,
            instrument,
            summary["snr_tercile"][i],
            summary["n"][i],
            summary["median_abs_z"][i],
            summary["chi2_dof"][i],
            summary["mean_z"][i],
            summary["gll_score"][i],
        )
    overall = {
        name: [v for v, t in zip(values, summary["snr_tercile"], strict=True) if t == "all"]
        for name, values in summary.items()
    }
    qc.save_png(qc.recovery_figure(split, depths, overall), snakemake.output.figure, dpi=110)
