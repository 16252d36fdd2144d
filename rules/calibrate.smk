# One rule per calibration stage and observation, exchanging float32 pixel-major .npy cubes
# (rows, columns, frames) and uint32 DQ maps (rows, columns). Disabled stages are skipped:
# cube_of() and dq_of() wire each stage to the nearest enabled one upstream.

# A full-size stage holds at most one input and one output cube (<= 1.1 GB for FGS1).
CUBE_RESOURCES = {"mem_mb": 2000, "runtime": 20}


def stage_outputs(stage):
    return {
        "cube": intermediate(paths.stage_cube(RESULTS, stage)),
        "dq": intermediate(paths.stage_dq(RESULTS, stage)),
        "meta": intermediate(paths.stage_meta(RESULTS, stage)),
    }


rule adc:
    message:
        "ADC inversion {wildcards}"
    input:
        signal=signal_file,
        adc_info=adc_info_file,
    output:
        **stage_outputs("adc"),
    params:
        columns=columns_of,
    log:
        paths.log("adc"),
    benchmark:
        paths.benchmark("adc")
    threads: 1
    resources:
        **CUBE_RESOURCES,
    conda:
        "../envs/arielcal.yaml"
    script:
        "../scripts/adc.py"


rule mask:
    message:
        "Bad-pixel map {wildcards}"
    input:
        dq=dq_of("mask"),
        dead=calibration_file("dead"),
        dark=calibration_file("dark"),
    output:
        dq=intermediate(paths.stage_dq(RESULTS, "mask")),
        meta=intermediate(paths.stage_meta(RESULTS, "mask")),
    params:
        columns=columns_of,
        sigma=config["hot_pixels"]["sigma"],
        maxiters=config["hot_pixels"]["maxiters"],
        hot=config["bad_pixels"]["hot"],
        dead=config["bad_pixels"]["dead"],
    log:
        paths.log("mask"),
    benchmark:
        paths.benchmark("mask")
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/arielcal.yaml"
    script:
        "../scripts/mask.py"


rule linearity:
    message:
        "Non-linearity correction {wildcards}"
    input:
        cube=cube_of("linearity"),
        dq=dq_of("linearity"),
        linear_corr=calibration_file("linear_corr"),
    output:
        **stage_outputs("linearity"),
    params:
        columns=columns_of,
    log:
        paths.log("linearity"),
    benchmark:
        paths.benchmark("linearity")
    threads: 1
    resources:
        **CUBE_RESOURCES,
    conda:
        "../envs/arielcal.yaml"
    script:
        "../scripts/linearity.py"


rule dark:
    message:
        "Dark subtraction {wildcards}"
    input:
        cube=cube_of("dark"),
        dq=dq_of("dark"),
        dark=calibration_file("dark"),
        axis_info=AXIS_INFO,
    output:
        **stage_outputs("dark"),
    params:
        columns=columns_of,
        second_read_extra_s=config["integration_time"]["second_read_extra_s"],
    log:
        paths.log("dark"),
    benchmark:
        paths.benchmark("dark")
    threads: 1
    resources:
        **CUBE_RESOURCES,
    conda:
        "../envs/arielcal.yaml"
    script:
        "../scripts/dark.py"


rule cds:
    message:
        "Correlated double sampling {wildcards}"
    input:
        cube=cube_of("cds"),
        dq=dq_of("cds"),
    output:
        **stage_outputs("cds"),
    log:
        paths.log("cds"),
    benchmark:
        paths.benchmark("cds")
    threads: 1
    resources:
        **CUBE_RESOURCES,
    conda:
        "../envs/arielcal.yaml"
    script:
        "../scripts/cds.py"


rule bin:
    message:
        "Time binning {wildcards}"
    input:
        cube=cube_of("bin"),
        dq=dq_of("bin"),
    output:
        **stage_outputs("bin"),
        nvalid=intermediate(paths.stage_cube(RESULTS, "nvalid")),
    params:
        frames_per_bin=lambda wildcards: config["binning"][wildcards.instrument],
    log:
        paths.log("bin"),
    benchmark:
        paths.benchmark("bin")
    threads: 1
    resources:
        **CUBE_RESOURCES,
    conda:
        "../envs/arielcal.yaml"
    script:
        "../scripts/bin.py"


rule flat:
    message:
        "Flat field {wildcards}"
    input:
        cube=cube_of("flat"),
        dq=dq_of("flat"),
        flat=calibration_file("flat"),
    output:
        **stage_outputs("flat"),
    params:
        columns=columns_of,
    log:
        paths.log("flat"),
    benchmark:
        paths.benchmark("flat")
    threads: 1
    resources:
        **CUBE_RESOURCES,
    conda:
        "../envs/arielcal.yaml"
    script:
        "../scripts/flat.py"
