# The optional in-painted product for machine learning (config inpaint: true): excluded values
# filled from their neighbours along the column axis; dq.npy says which ones were filled.


rule inpaint:
    input:
        calibrated=paths.product(RESULTS, paths.PRODUCT_FILES["calibrated"]),
    output:
        inpainted=paths.product(RESULTS, "calibrated_inpainted.npy"),
    log:
        paths.log("inpaint"),
    benchmark:
        paths.benchmark("inpaint")
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    message:
        "In-painted product {wildcards}"
    run:
        in_process(
            "inpaint",
            input,
            output,
            params,
            wildcards,
            threads,
            resources,
            log,
            rule,
        )
