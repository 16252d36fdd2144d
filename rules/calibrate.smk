# One rule per calibration stage and observation, exchanging float32 pixel-major .npy cubes
# (rows, columns, frames) and uint32 DQ maps (rows, columns). Disabled stages are skipped:
# cube_of() and dq_of() wire each stage to the nearest enabled one upstream.

# Priorities rise along the chain, so Snakemake finishes an observation before starting
# new ones: intermediates on disk are then bounded by the cores, not by the planets
# (measured: staged high-water 4.9 -> 1.9 GB for 4 full-size planets on 2 cores).

# A full-size stage holds at most one input and one output cube (<= 1.1 GB for FGS1).
CUBE_RESOURCES = {"mem_mb": 2000, "runtime": 20}


rule adc:
    input:
        signal=signal_file,
        adc_info=adc_info_file,
    output:
        stage_outputs("adc"),
    log:
        paths.log("adc"),
    benchmark:
        paths.benchmark("adc")
    cache: OUTPUT_CACHE
    priority: 1
    group:
        OBSERVATION_GROUP
    threads: 1
    resources:
        **CUBE_RESOURCES,
    params:
        columns=columns_of,
    message:
        "ADC inversion {wildcards}"
    run:
        in_process(
            "adc", input, output, params, wildcards, threads, resources, log, rule
        )


rule mask:
    input:
        dq=dq_of("mask"),
        dead=calibration_file("dead"),
        dark=calibration_file("dark"),
    output:
        stage_outputs("mask", names=("dq", "meta")),
    log:
        paths.log("mask"),
    benchmark:
        paths.benchmark("mask")
    cache: OUTPUT_CACHE
    priority: 2
    group:
        OBSERVATION_GROUP
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        columns=columns_of,
        sigma=config["hot_pixels"]["sigma"],
        maxiters=config["hot_pixels"]["maxiters"],
        hot=config["bad_pixels"]["hot"],
        dead=config["bad_pixels"]["dead"],
        saturated=config["bad_pixels"]["saturated"],
    message:
        "Bad-pixel map {wildcards}"
    run:
        in_process(
            "mask", input, output, params, wildcards, threads, resources, log, rule
        )


rule linearity:
    input:
        cube=cube_of("linearity"),
        dq=dq_of("linearity"),
        linear_corr=calibration_file("linear_corr"),
    output:
        stage_outputs("linearity"),
    log:
        paths.log("linearity"),
    benchmark:
        paths.benchmark("linearity")
    cache: OUTPUT_CACHE
    priority: 3
    group:
        OBSERVATION_GROUP
    threads: 1
    resources:
        **CUBE_RESOURCES,
    params:
        columns=columns_of,
    message:
        "Non-linearity correction {wildcards}"
    run:
        in_process(
            "linearity",
            input,
            output,
            params,
            wildcards,
            threads,
            resources,
            log,
            rule,
        )


rule dark:
    input:
        cube=cube_of("dark"),
        dq=dq_of("dark"),
        dark=calibration_file("dark"),
        axis_info=AXIS_INFO,
    output:
        stage_outputs("dark"),
    log:
        paths.log("dark"),
    benchmark:
        paths.benchmark("dark")
    cache: OUTPUT_CACHE
    priority: 4
    group:
        OBSERVATION_GROUP
    threads: 1
    resources:
        **CUBE_RESOURCES,
    params:
        columns=columns_of,
        second_read_extra_s=config["integration_time"]["second_read_extra_s"],
    message:
        "Dark subtraction {wildcards}"
    run:
        in_process(
            "dark", input, output, params, wildcards, threads, resources, log, rule
        )


rule cds:
    input:
        cube=cube_of("cds"),
        dq=dq_of("cds"),
    output:
        stage_outputs("cds"),
    log:
        paths.log("cds"),
    benchmark:
        paths.benchmark("cds")
    cache: OUTPUT_CACHE
    priority: 5
    group:
        OBSERVATION_GROUP
    threads: 1
    resources:
        **CUBE_RESOURCES,
    message:
        "Correlated double sampling {wildcards}"
    run:
        in_process(
            "cds", input, output, params, wildcards, threads, resources, log, rule
        )


rule outliers:
    input:
        cube=cube_of("outliers"),
        dq=dq_of("outliers"),
        read=calibration_file("read"),
    output:
        stage_outputs("outliers"),
    log:
        paths.log("outliers"),
    benchmark:
        paths.benchmark("outliers")
    cache: OUTPUT_CACHE
    priority: 5
    group:
        OBSERVATION_GROUP
    threads: 1
    resources:
        **CUBE_RESOURCES,
    params:
        columns=columns_of,
        threshold=config["outliers"]["threshold"],
        window=config["outliers"]["window"],
    message:
        "Temporal outliers {wildcards}"
    run:
        in_process(
            "outliers",
            input,
            output,
            params,
            wildcards,
            threads,
            resources,
            log,
            rule,
        )


rule bin:
    input:
        cube=cube_of("bin"),
        dq=dq_of("bin"),
    output:
        stage_outputs("bin", nvalid=True),
    log:
        paths.log("bin"),
    benchmark:
        paths.benchmark("bin")
    cache: OUTPUT_CACHE
    priority: 6
    group:
        OBSERVATION_GROUP
    threads: 1
    resources:
        **CUBE_RESOURCES,
    params:
        frames_per_bin=frames_per_bin,
    message:
        "Time binning {wildcards}"
    run:
        in_process(
            "bin", input, output, params, wildcards, threads, resources, log, rule
        )


rule flat:
    input:
        cube=cube_of("flat"),
        dq=dq_of("flat"),
        flat=calibration_file("flat"),
    output:
        stage_outputs("flat"),
    log:
        paths.log("flat"),
    benchmark:
        paths.benchmark("flat")
    cache: OUTPUT_CACHE
    priority: 7
    group:
        OBSERVATION_GROUP
    threads: 1
    resources:
        **CUBE_RESOURCES,
    params:
        columns=columns_of,
    message:
        "Flat field {wildcards}"
    run:
        in_process(
            "flat", input, output, params, wildcards, threads, resources, log, rule
        )


# The observation product: the last stage's cube in the notebook's layout, DQ and metadata.
rule product:
    input:
        **({"nvalid": paths.stage_nvalid(STAGES_ROOT)} if "bin" in ENABLED else {}),
        cube=paths.stage_cube(STAGES_ROOT, last_cube_stage()),
        dq=paths.stage_dq(STAGES_ROOT, ENABLED[-1]),
        stage_meta=[paths.stage_meta(STAGES_ROOT, s) for s in ENABLED],
        axis_info=AXIS_INFO,
    output:
        product_outputs(),
    log:
        paths.log("product"),
    benchmark:
        paths.benchmark("product")
    cache: OUTPUT_CACHE
    priority: 8
    group:
        OBSERVATION_GROUP
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        columns=columns_of,
        frames_per_bin=frames_per_bin,
    message:
        "Product {wildcards}"
    run:
        in_process(
            "product",
            input,
            output,
            params,
            wildcards,
            threads,
            resources,
            log,
            rule,
        )
