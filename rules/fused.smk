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
    # One thread: the kernel takes ~0.1 s of a ~1.3 s job (the rest is start-up and reading), so
    # concurrent single-threaded jobs beat threaded ones (bench/results/latest.md).
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
