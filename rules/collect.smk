# Per-split stacks of the observation products, for machine learning. After a failed run
# (--keep-going), the onerror hook writes the stacks the run could not (salvage_stacks). A
# stack whose every observation failed is all NaN; damaged outputs of an earlier run are
# rebuilt by the next (collect_inputs.smk).


include: "collect_inputs.smk"


localrules:
    observations_table,
    reject_observation,


rule stack:
    input:
        products=job_function(
            lambda wildcards: [path for *_, path in split_slots(wildcards) if path]
        ),
        # The shape of a stack whose every row failed (arielcal.stacks.nan_shape).
        axis_info=AXIS_INFO,
    output:
        paths.stacked(RESULTS),
    log:
        paths.log("stack", paths.SPLIT_INSTRUMENT),
    benchmark:
        paths.benchmark("stack", paths.SPLIT_INSTRUMENT)
    cache: OUTPUT_CACHE
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        slots=split_slots,
        columns=columns_of,
        frames_per_bin=frames_per_bin,
    message:
        "Stack {wildcards.split} {wildcards.instrument}"
    run:
        in_process(
            "stack", input, output, params, wildcards, threads, resources, log, rule
        )


rule observations_table:
    input:
        split_stacks,
    output:
        paths.observations_table(RESULTS),
    log:
        paths.log("observations", paths.SPLIT),
    benchmark:
        paths.benchmark("observations", paths.SPLIT)
    params:
        rows=split_observations,
        slots=stack_slots_of_split,
    message:
        "Row order of the {wildcards.split} stacks"
    run:
        in_process(
            "observations",
            input,
            output,
            params,
            wildcards,
            threads,
            resources,
            log,
            rule,
        )


rule reject_observation:
    output:
        paths.product(RESULTS, "rejected"),
    log:
        paths.log("reject"),
    benchmark:
        paths.benchmark("reject")
    params:
        reason=rejection_reason,
    message:
        "Rejected {wildcards}: {params.reason}"
    run:
        in_process(
            "reject",
            input,
            output,
            params,
            wildcards,
            threads,
            resources,
            log,
            rule,
        )
