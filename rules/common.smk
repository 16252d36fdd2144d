import os

from arielcal import config as arielcal_config
from arielcal import (
    formats,
    layout,
    paths,
    science_io,
    simulate,
    snakemake_shim,
    preflight,
)
from arielcal.formats import CALIBRATION_MAPS
from arielcal.errors import InputError
from arielcal.instruments import INSTRUMENTS
from snakemake.logging import logger

_SCHEMA = arielcal_config.load_schema(workflow.source_path("../config/schema.yaml"))
# --config key=value takes the same values as config.yaml (Snakemake passes strings).
arielcal_config.normalize(config, _SCHEMA)
arielcal_config.validate(
    config,
    source=", ".join(map(str, workflow.configfiles)) or "config",
    schema=_SCHEMA,
)

# Input, params and unpack functions: their signature handed to Snakemake once (no per-job
# inspection, arielcal.snakemake_shim).
job_function = snakemake_shim.fixed_signature

# Inside a SLURM group job too, rules run in threads of the job's Snakemake, not in a new
# Snakemake per rule (the plugin passes --force-use-threads to single-rule jobs only).
snakemake_shim.threads_in_cluster_jobs(workflow)


SCRIPTS = os.path.join(workflow.basedir, "scripts")


def in_process(script, input, output, params, wildcards, threads, resources, log, rule):
    """Run scripts/<script>.py in this process (arielcal.jobs): no interpreter per job."""
    from arielcal import jobs

    job = jobs.Job(input, output, params, wildcards, threads, resources, log, rule)
    jobs.run_script(os.path.join(SCRIPTS, f"{script}.py"), job)


RESULTS = "results"
# Staged mode's per-stage cubes: under results/ or in intermediates_dir (a RAM disk, scratch).
STAGES_ROOT = config.get("intermediates_dir") or RESULTS
STAGES = ["adc", "mask", "linearity", "dark", "cds", "outliers", "bin", "flat"]
# mask only adds to the DQ map; every other stage transforms the cube.
DQ_ONLY_STAGES = {"mask"}
ENABLED = [s for s in STAGES if config["stages"].get(s, True)]


def _observations():
    """(edition, data_dir, observations) from the data on disk or the simulation plan."""
    if config["data_dir"] is None:
        sim = arielcal_config.simulation(config)
        found = [
            layout.Observation(split, planet_id, visit, instrument)
            for split, planet_id, n_visits in simulate.planets(sim)
            for visit in range(n_visits)
            for instrument in INSTRUMENTS
        ]
        return sim.edition, config["simulation"]["out_dir"], sim, found
    preflight.check_data_dir(config["data_dir"])
    edition, found = layout.discover(
        config["data_dir"],
        config["splits"],
        config.get("planets"),
        config["instruments"],
    )
    return edition, config["data_dir"], None, found


EDITION, DATA_DIR, SIMULATION, _FOUND = _observations()
_PLANETS = None if config.get("planets") is None else set(config["planets"])
# A planet id found in none of the requested splits (a typo) stops the run.
arielcal_config.unknown_planets(
    _PLANETS,
    {o.planet_id for o in _FOUND if o.split in config["splits"]},
    config["splits"],
    DATA_DIR,
)
# Every observation asked for, in the row order of the per-split stacks.
REQUESTED = [
    o
    for o in _FOUND
    if o.split in config["splits"]
    and o.instrument in config["instruments"]
    and (_PLANETS is None or o.planet_id in _PLANETS)
]
if not REQUESTED:
    raise InputError(
        DATA_DIR,
        f"observations for splits {config['splits']}, instruments {config['instruments']}"
        + ("" if _PLANETS is None else f", planets {sorted(_PLANETS)}"),
        "none",
    )
# Defects of the whole dataset (axis_info, a binning larger than the observations) stop the
# run before any job: in seconds, not after the first stages of every observation.
_BINNING = config["binning"] if config["stages"]["bin"] else None
# Only the process that schedules the run checks (a cluster job's own Snakemake need not).
_CHECK_DATASET = SIMULATION is None and workflow.is_main_process
if SIMULATION is None:
    formats.require_file(layout.axis_info_file(DATA_DIR), "an existing file")
if _CHECK_DATASET:
    _FRAMES = preflight.check_dataset(DATA_DIR, config["instruments"], _BINNING)
elif SIMULATION is not None:
    for _name, _frames in preflight.simulated_frames(SIMULATION).items():
        preflight.check_binning("config key 'simulation'", _name, _frames, _BINNING)
# Observations that cannot run (missing files, no ADC row) fail in reject_observation with
# their reason; the others run, also under --keep-going.
REJECTED = (
    {} if SIMULATION is not None else preflight.rejections(DATA_DIR, EDITION, REQUESTED)
)
OBSERVATIONS = [o for o in REQUESTED if o not in REJECTED]
OBSERVATION_SET = set(OBSERVATIONS)
if _CHECK_DATASET:
    # Maps of another shape, signals of another length than axis_info, in the whole dataset.
    preflight.check_layouts(DATA_DIR, EDITION, OBSERVATIONS, _FRAMES)
for _obs, _reason in REJECTED.items():
    logger.warning(
        f"Rejected {_obs.split} {_obs.planet_id} visit {_obs.visit} {_obs.instrument}: {_reason}"
    )


wildcard_constraints:
    split="train|test",
    planet=r"\d+",
    visit=r"\d+",
    instrument="AIRS-CH0|FGS1",
    stage="|".join(STAGES),


# Snakemake's between-workflow output cache (--cache with SNAKEMAKE_OUTPUT_CACHE) and per-job
# benchmark files exclude each other: output_cache chooses the cache for the calibration rules.
OUTPUT_CACHE = "omit-software" if config["output_cache"] else False


def drop_benchmarks_of_cached_rules():
    """Cache-eligible rules lose their benchmark (Snakemake refuses both; arielcal.snakemake_shim)."""
    if OUTPUT_CACHE:
        for candidate in workflow.rules:
            if candidate.cache:
                snakemake_shim.drop_benchmark(candidate)


# On a cluster, the stage chain of one observation runs as one job (see slurm/config.yaml).
OBSERVATION_GROUP = "obs_{split}_{planet}_{visit}_{instrument}"


def intermediate(path):
    return path if config["keep_intermediates"] else temp(path)


def upstream(stage, cube_only):
    """The enabled stage whose output feeds ``stage``: its cube (cube_only) or its DQ map."""
    before = [s for s in STAGES[: STAGES.index(stage)] if s in ENABLED]
    if cube_only:
        before = [s for s in before if s not in DQ_ONLY_STAGES]
    return before[-1]


def cube_of(stage):
    return paths.stage_cube(STAGES_ROOT, upstream(stage, cube_only=True))


def dq_of(stage):
    return paths.stage_dq(STAGES_ROOT, upstream(stage, cube_only=False))


def last_cube_stage():
    return [s for s in ENABLED if s not in DQ_ONLY_STAGES][-1]


@job_function
def columns_of(wildcards):
    """Detector columns kept for this instrument: the AIRS science cut, all FGS1 columns."""
    if wildcards.instrument == "AIRS-CH0":
        return list(config["airs_columns"])
    return [0, INSTRUMENTS[wildcards.instrument].cols]


@job_function
def frames_per_bin(wildcards):
    """CDS frames per time sample of the product: 1 when binning is off."""
    return config["binning"][wildcards.instrument] if "bin" in ENABLED else 1


def product_outputs():
    """The files of one observation product, the same in staged and fused mode."""
    names = ["calibrated", "dq"] + (["nvalid"] if "bin" in ENABLED else []) + ["meta"]
    return multiext(
        paths.product_prefix(RESULTS), **{n: paths.PRODUCT_FILES[n] for n in names}
    )


def _dataset_pattern(function, *args):
    """A layout path with Snakemake wildcards; 2024 has no visit suffix, hence no {visit}."""
    return str(function(DATA_DIR, EDITION, "{split}", "{planet}", "{visit}", *args))


# The raw inputs of an observation are wildcard patterns, which Snakemake only formats: an
# input function costs a call and two signature inspections in every job (about 1 s of the
# 1100-planet dry run). Snakemake reads braces in any input path as wildcards, so a
# data_dir containing braces was never usable (AXIS_INFO is a plain path).
signal_file = _dataset_pattern(layout.signal_file, "{instrument}")


def calibration_file(kind):
    return _dataset_pattern(layout.calibration_file, "{instrument}", kind)


adc_info_file = str(layout.adc_info_file(DATA_DIR, EDITION, "{split}"))
AXIS_INFO = str(layout.axis_info_file(DATA_DIR))


def observation_products(name):
    return [paths.product(RESULTS, name).format(**o.wildcards) for o in OBSERVATIONS]


_REJECTED_BY_WILDCARDS = {tuple(o.wildcards.values()): r for o, r in REJECTED.items()}


@job_function
def rejection_reason(wildcards):
    return _REJECTED_BY_WILDCARDS[
        (wildcards.split, wildcards.planet, wildcards.visit, wildcards.instrument)
    ]


def collect_targets():
    splits = sorted({o.split for o in REQUESTED})
    stacks = sorted({(o.split, o.instrument) for o in REQUESTED})
    return (
        observation_products("calibrated.npy")
        + [paths.product(RESULTS, "rejected").format(**o.wildcards) for o in REJECTED]
        + [paths.observations_table(RESULTS).format(split=s) for s in splits]
        + [paths.stacked(RESULTS).format(split=s, instrument=i) for s, i in stacks]
    )


def stage_outputs(stage, names=("cube", "dq", "meta"), nvalid=False):
    """A stage's files as one multiext (as Snakemake's output cache requires)."""
    extensions = {name: paths.STAGE_EXTENSIONS[name] for name in names}
    if nvalid:
        extensions["nvalid"] = paths.NVALID_EXTENSION
    return intermediate(multiext(paths.stage_prefix(STAGES_ROOT, stage), **extensions))


@job_function
def split_observations(wildcards):
    """(planet_id, visit) of a split, in row order of the stacked arrays."""
    return sorted(
        {(o.planet_id, o.visit) for o in REQUESTED if o.split == wildcards.split}
    )


@job_function
def split_slots(wildcards):
    """[planet_id, visit, product path or ""] per stack row; "" where the instrument has no signal."""
    slots = []
    for planet, visit in split_observations(wildcards):
        obs = layout.Observation(wildcards.split, planet, visit, wildcards.instrument)
        path = paths.product(RESULTS, "calibrated.npy").format(**obs.wildcards)
        slots.append([planet, visit, path if obs in OBSERVATION_SET else ""])
    return slots


FAILURE_SUMMARY = f"{RESULTS}/failed_observations.csv"


def write_failure_summary():
    """results/failed_observations.csv: every failed observation of the run with its reason."""
    from arielcal import failures

    requested = {tuple(o.wildcards.values()) for o in REQUESTED}
    product = paths.product(RESULTS, "calibrated.npy")
    product_of = lambda key: product.format(**dict(zip(failures.COLUMNS, key)))
    if failures.summarize("logs", FAILURE_SUMMARY, requested, product_of):
        logger.error(f"Failed observations and their reasons: {FAILURE_SUMMARY}")
