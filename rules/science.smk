# Science layer, after the observation products: per-pixel variance, spectral and white light
# curves with a transit window and depths per observation, QC figures per visit and per split,
# and the injection-recovery check of the depths (docs/science.md).


include: "science_inputs.smk"


report: "../report/workflow.rst"


# One job per observation for the per-pixel variance and the light curves: a job's fixed cost
# (interpreter, imports, Snakemake's preamble: bench/job_cost.py) exceeds either's work.
rule extract:
    input:
        **({"nvalid": science_file("nvalid.npy")} if "bin" in ENABLED else {}),
        calibrated=science_file("calibrated.npy"),
        dq=science_file("dq.npy"),
        product_meta=science_file("meta.json"),
        read=calibration_file("read"),
        dark=calibration_file("dark"),
        flat=calibration_file("flat"),
    output:
        variance=science_file("variance.npy"),
        spectral=science_file("spectral.npy"),
        white=science_file("white.npy"),
        table=science_file("light_curves.parquet"),
        meta=science_file("light_curves.json"),
    log:
        paths.log("extract"),
    benchmark:
        paths.benchmark("extract")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        aperture=science_setting("aperture"),
        background_outside=science_setting("background_outside"),
    message:
        "Variance and light curves {wildcards}"
    run:
        in_process(
            "extract",
            input,
            output,
            params,
            wildcards,
            threads,
            resources,
            log,
            rule,
        )


# One transit window per planet visit, fitted to the white light curves of all its
# instruments at once; then the depth of every channel.
rule transit:
    input:
        unpack(transit_inputs),
    output:
        depths=visit_file("depths.csv"),
        meta=visit_file("transit.json"),
    log:
        paths.log("transit", paths.VISIT),
    benchmark:
        paths.benchmark("transit", paths.VISIT)
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        instruments=visit_instruments,
        depth=SCIENCE["depth"],
        star_info=lambda wildcards: os.path.join(
            DATA_DIR, f"{wildcards.split}_star_info.csv"
        ),
    message:
        "Transit window and depths {wildcards}"
    run:
        in_process(
            "transit",
            input,
            output,
            params,
            wildcards,
            threads,
            resources,
            log,
            rule,
        )


# Per-visit QC figures of every visit only with report.all_visit_figures: true (a matplotlib
# figure costs ~0.3 s; rule qc_worst draws those of the split's worst visits in any case).
rule qc_observation:
    input:
        unpack(qc_visit_inputs),
    output:
        **{
            name: visit_file(f"qc/{name}.png")
            for name in ("images", "white_light_curves", "spectral_light_curves")
        },
    log:
        paths.log("qc", paths.VISIT),
    benchmark:
        paths.benchmark("qc", paths.VISIT)
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    params:
        instruments=visit_instruments,
    message:
        "QC figures {wildcards}"
    run:
        in_process(
            "qc_observation",
            input,
            output,
            params,
            wildcards,
            threads,
            resources,
            log,
            rule,
        )


rule qc_split:
    input:
        meta=split_science_files("meta.json"),
        light_curves=split_science_files("light_curves.json"),
        white=split_science_files("white.npy"),
        transit=split_visit_files("transit.json"),
    output:
        table=report(
            split_file("qc_observations.csv"),
            caption="../report/qc_observations.rst",
            category="Splits",
            subcategory="{split}",
            labels={"split": "{split}", "figure": "observations table"},
        ),
        figure=report(
            split_file("qc_summary.png"),
            caption="../report/qc_summary.rst",
            category="Splits",
            subcategory="{split}",
            labels={"split": "{split}", "figure": "summary"},
        ),
    log:
        paths.log("qc", paths.SPLIT),
    benchmark:
        paths.benchmark("qc", paths.SPLIT)
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    params:
        observations=split_observation_keys,
        visits=split_visit_keys,
    message:
        "QC summary {wildcards.split}"
    run:
        in_process(
            "qc_split",
            input,
            output,
            params,
            wildcards,
            threads,
            resources,
            log,
            rule,
        )


# The report keeps the per-visit figures of only the split's worst visits (report.worst_visits),
# ranked from qc_observations.csv, so its size does not grow with the number of planets.
REPORT_WORST_VISITS = config.get("report", {}).get("worst_visits", 5)


# Targets of rule all: the worst-visit figures and ranking of every split.
REPORT_TARGETS = [
    split_file(name).format(split=s)
    for s in sorted({o.split for o in OBSERVATIONS} if SCIENCE["extract"] else ())
    for name in ("qc_worst.csv", "qc_worst")
]


rule qc_worst:
    input:
        unpack(qc_split_visit_inputs),
        table=split_file("qc_observations.csv"),
    output:
        table=report(
            split_file("qc_worst.csv"),
            caption="../report/qc_worst_table.rst",
            category="Observations",
            subcategory="{split} worst visits",
            labels={"split": "{split}", "visit": "all", "figure": "ranking"},
        ),
        figures=report(
            directory(split_file("qc_worst")),
            patterns=["{rank,[0-9]+}_{planet,[^_]+}_{visit,[0-9]+}_{figure}.png"],
            caption="../report/qc_worst.rst",
            category="Observations",
            subcategory="{split} worst visits",
            labels={
                "split": "{split}",
                "visit": "#{rank}: planet {planet} visit {visit}",
                "figure": "{figure}",
            },
        ),
    log:
        paths.log("qc", f"{paths.SPLIT}.worst"),
    benchmark:
        paths.benchmark("qc", f"{paths.SPLIT}.worst")
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        worst_visits=REPORT_WORST_VISITS,
    message:
        "Worst visits {wildcards.split}"
    run:
        in_process(
            "qc_worst",
            input,
            output,
            params,
            wildcards,
            threads,
            resources,
            log,
            rule,
        )


rule recovery:
    input:
        depths=split_visit_files("depths.csv"),
        transit=split_visit_files("transit.json"),
        truth=truth_files,
    output:
        depths=split_file("depths.csv"),
        summary=report(
            split_file("recovery.csv"),
            caption="../report/recovery_table.rst",
            category="Injection-recovery",
            subcategory="{split}",
            labels={"split": "{split}", "figure": "statistics"},
        ),
        figure=report(
            split_file("recovery.png"),
            caption="../report/recovery_figure.rst",
            category="Injection-recovery",
            subcategory="{split}",
            labels={"split": "{split}", "figure": "spectra and residuals"},
        ),
    log:
        paths.log("recovery", paths.SPLIT),
    benchmark:
        paths.benchmark("recovery", paths.SPLIT)
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    params:
        visits=split_visit_keys,
    message:
        "Injection-recovery {wildcards.split}"
    run:
        in_process(
            "recovery",
            input,
            output,
            params,
            wildcards,
            threads,
            resources,
            log,
            rule,
        )
