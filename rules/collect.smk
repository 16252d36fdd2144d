# Per-split stacks of the observation products, for machine learning.


def split_observations(wildcards):
    """(planet_id, visit) of a split, in row order of the stacked arrays."""
    return sorted(
        {(o.planet_id, o.visit) for o in OBSERVATIONS if o.split == wildcards.split}
    )


def split_slots(wildcards):
    """[planet_id, visit, product path or ""] per stack row; "" where the instrument has no signal."""
    slots = []
    for planet, visit in split_observations(wildcards):
        obs = layout.Observation(wildcards.split, planet, visit, wildcards.instrument)
        path = paths.product(RESULTS, "calibrated.npy").format(**obs.wildcards)
        slots.append([planet, visit, path if obs in OBSERVATION_SET else ""])
    return slots


rule stack:
    input:
        lambda wildcards: [path for *_, path in split_slots(wildcards) if path],
    output:
        paths.stacked(RESULTS),
    log:
        "logs/stack/{split}/{instrument}.log",
    benchmark:
        "benchmarks/stack/{split}/{instrument}.tsv"
    conda:
        "../envs/arielcal.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        slots=split_slots,
    message:
        "Stack {wildcards.split} {wildcards.instrument}"
    script:
        "../scripts/stack.py"


rule observations_table:
    output:
        paths.observations_table(RESULTS),
    log:
        "logs/observations/{split}.log",
    conda:
        "../envs/arielcal.yaml"
    params:
        rows=split_observations,
    message:
        "Row order of the {wildcards.split} stacks"
    script:
        "../scripts/observations.py"
