# Fused mode: one job per observation runs every enabled stage in memory (the same functions as
# the staged rules) and writes only the products.


rule fused:
    input:
        **{
            kind: calibration_file(kind)
            for kind in ("dead", "dark", "flat", "linear_corr", "read")
        },
        signal=signal_file,
        adc_info=adc_info_file,
        axis_info=AXIS_INFO,
    output:
        product_outputs(),
    log:
        paths.log("fused"),
    benchmark:
        paths.benchmark("fused")
    cache: OUTPUT_CACHE
    # One thread: locally, jobs run in threads of one process, where two one-thread jobs at once
    # were as fast as one job on two threads (8 full-size planets: 1.73 vs 1.71 s per planet),
    # though they hold two observations in memory (1.53 vs 1.04 GB; bench/results/latest.md:
    # --set-threads fused=2 for less memory). On a cluster a job asks for one CPU.
    threads: 1
    resources:
        mem_mb=1500,
        runtime=20,
    params:
        columns=columns_of,
        stages=ENABLED,
        frames_per_bin=frames_per_bin,
        second_read_extra_s=config["integration_time"]["second_read_extra_s"],
        sigma=config["hot_pixels"]["sigma"],
        maxiters=config["hot_pixels"]["maxiters"],
        hot=config["bad_pixels"]["hot"],
        dead=config["bad_pixels"]["dead"],
        saturated=config["bad_pixels"]["saturated"],
        outlier_threshold=config["outliers"]["threshold"],
        outlier_window=config["outliers"]["window"],
    message:
        "Fused calibration {wildcards}"
    run:
        in_process(
            "fused", input, output, params, wildcards, threads, resources, log, rule
        )
