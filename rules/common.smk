import os

from arielcal import config as arielcal_config
from arielcal import layout, paths, science_io, simulate, snakemake_shim, validate
from arielcal.formats import CALIBRATION_MAPS
from arielcal.errors import InputError
from arielcal.instruments import INSTRUMENTS
from snakemake.logging import logger

arielcal_config.normalize(config)
arielcal_config.validate(
    config,
    source=", ".join(map(str, workflow.configfiles)) or "config",
    schema=arielcal_config.load_schema(workflow.source_path("../config/schema.yaml")),
)

# Input, params and unpack functions: their signature handed to Snakemake once (no per-job
# inspection, arielcal.snakemake_shim).
job_function = snakemake_shim.fixed_signature


SCRIPTS = os.path.join(workflow.basedir, "scripts")


def in_process(script, input, output, params, wildcards, threads, resources, log, rule):
    """Run scripts/<script>.py in this process (arielcal.jobs): no interpreter per job."""
    from arielcal import jobs

    job = jobs.Job(input, output, params, wildcards, threads, resources, log, rule)
    jobs.run_script(os.path.join(SCRIPTS, f"{script}.py"), job)


RESULTS = "results"
STAGES = ["adc", "mask", "linearity", "dark", "cds", "bin", "flat"]
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
    edition, found = layout.discover(
        config["data_dir"],
        config["splits"],
        config.get("planets"),
        config["instruments"],
    )
    return edition, config["data_dir"], None, found


EDITION, DATA_DIR, SIMULATION, _FOUND = _observations()
_PLANETS = None if config.get("planets") is None else set(config["planets"])
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
if SIMULATION is None and not layout.axis_info_file(DATA_DIR).is_file():
    raise InputError(
        layout.axis_info_file(DATA_DIR), "an existing file", "no such file"
    )
# Observations that cannot run (missing files, no ADC row) fail in reject_observation with
# their reason; the others run, also under --keep-going.
REJECTED = (
    {} if SIMULATION is not None else validate.rejections(DATA_DIR, EDITION, REQUESTED)
)
OBSERVATIONS = [o for o in REQUESTED if o not in REJECTED]
OBSERVATION_SET = set(OBSERVATIONS)
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
    return paths.stage_cube(RESULTS, upstream(stage, cube_only=True))


def dq_of(stage):
    return paths.stage_dq(RESULTS, upstream(stage, cube_only=False))


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
    splits = sorted({o.split for o in OBSERVATIONS})
    stacks = sorted({(o.split, o.instrument) for o in OBSERVATIONS})
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
    return intermediate(multiext(paths.stage_prefix(RESULTS, stage), **extensions))


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
    from arielcal import workflow as steps

    requested = {tuple(o.wildcards.values()) for o in REQUESTED}
    if steps.summarize_failures("logs", FAILURE_SUMMARY, requested):
        logger.error(f"Failed observations and their reasons: {FAILURE_SUMMARY}")


# ----------------------------------------------------------------------------------------------
# Science layer (rules/science.smk): variance, light curves, transit depths, QC figures and
# injection-recovery. Helpers only; the `science:` config keys are read with these defaults
# until config/schema.yaml declares them.

SCIENCE_DEFAULTS = {
    "extract": True,
    "aperture": {"AIRS-CH0": [8, 24], "FGS1": [10, 22]},
    "background_outside": {"AIRS-CH0": [8, 24], "FGS1": [6, 26]},
    "depth": {"margin_bins": 2, "baseline_degree": 0},
}
SCIENCE = {
    key: (
        {**default, **config.get("science", {}).get(key, {})}
        if isinstance(default, dict)
        else config.get("science", {}).get(key, default)
    )
    for key, default in SCIENCE_DEFAULTS.items()
}
QC_VISIT_FIGURES = ("images.png", "white_light_curves.png", "spectral_light_curves.png")
ALL_VISIT_FIGURES = config.get("report", {}).get("all_visit_figures", False)
SIMULATION_TRUTH = (
    os.path.join(DATA_DIR, simulate.TRUTH_FILE) if SIMULATION is not None else None
)


def science_file(name):
    """A per-observation science file, next to the product."""
    return paths.product(RESULTS, name)


def visit_file(name):
    """A per-visit file (every instrument of one planet visit)."""
    return paths.visit(RESULTS, name)


def split_file(name):
    return f"{RESULTS}/{{split}}/{name}"


def science_setting(key):
    """params: function giving this instrument's value of science.<key>."""

    @job_function
    def _value(wildcards):
        return SCIENCE[key][wildcards.instrument]

    return _value


_OBSERVATIONS_OF_VISIT = {}
for _o in OBSERVATIONS:
    _key = (_o.split, str(_o.planet_id), str(_o.visit))
    _OBSERVATIONS_OF_VISIT.setdefault(_key, []).append(_o)


def _visit_observations(wildcards):
    """The observations of one planet visit (indexed once: called for every visit job)."""
    key = (wildcards.split, wildcards.planet, wildcards.visit)
    return _OBSERVATIONS_OF_VISIT.get(key, [])


@job_function
def visit_instruments(wildcards):
    return [o.instrument for o in _visit_observations(wildcards)]


def _observation_inputs(wildcards, names):
    """{<instrument>_<name>: path} for every instrument observed in this visit."""
    files = {}
    for o in _visit_observations(wildcards):
        key = o.instrument.replace("-", "_")
        for name in names:
            stem = name.split(".")[0]
            files[f"{key}_{stem}"] = science_file(name).format(**o.wildcards)
    return files


@job_function
def transit_inputs(wildcards):
    return _observation_inputs(
        wildcards, ("spectral.npy", "white.npy", "light_curves.json")
    )


def _qc_figure_inputs(observations, visits):
    """What the per-visit figures read, named by science_io.figure_input: VISIT_FIGURE_FILES
    and the raw signal per observation, transit.json and depths.csv per visit."""
    files = {}
    for o in observations:
        for name in science_io.VISIT_FIGURE_FILES:
            key = science_io.figure_input(o.planet_id, o.visit, name, o.instrument)
            files[key] = science_file(name).format(**o.wildcards)
        files[science_io.figure_input(o.planet_id, o.visit, "signal", o.instrument)] = (
            str(
                layout.signal_file(
                    DATA_DIR, EDITION, o.split, o.planet_id, o.visit, o.instrument
                )
            )
        )
    for s, p, v in visits:
        for name in ("transit.json", "depths.csv"):
            key = science_io.figure_input(p, v, name)
            files[key] = visit_file(name).format(split=s, planet=p, visit=v)
    return files


@job_function
def qc_visit_inputs(wildcards):
    return _qc_figure_inputs(
        _visit_observations(wildcards),
        [(wildcards.split, wildcards.planet, wildcards.visit)],
    )


@job_function
def qc_split_visit_inputs(wildcards):
    return _qc_figure_inputs(
        _split_observations_of(wildcards), _split_visits_of(wildcards)
    )


def _split_observations_of(wildcards):
    return [o for o in OBSERVATIONS if o.split == wildcards.split]


def _split_visits_of(wildcards):
    return sorted(
        {(o.split, o.planet_id, o.visit) for o in _split_observations_of(wildcards)}
    )


def split_science_files(name):
    """Input function: one file per observation of the split, in OBSERVATIONS order."""

    @job_function
    def _files(wildcards):
        return [
            science_file(name).format(**o.wildcards)
            for o in _split_observations_of(wildcards)
        ]

    return _files


def split_visit_files(name):
    """Input function: one file per planet visit of the split, in split_visit_keys order."""

    @job_function
    def _files(wildcards):
        return [
            visit_file(name).format(split=s, planet=p, visit=v)
            for s, p, v in _split_visits_of(wildcards)
        ]

    return _files


@job_function
def split_observation_keys(wildcards):
    """[split, planet_id, visit, instrument] per observation, as split_science_files."""
    return [
        [o.split, o.planet_id, o.visit, o.instrument]
        for o in _split_observations_of(wildcards)
    ]


@job_function
def split_visit_keys(wildcards):
    """[split, planet_id, visit] per planet visit, as split_visit_files."""
    return [list(key) for key in _split_visits_of(wildcards)]


@job_function
def truth_files(wildcards):
    """The injected truth of a simulated dataset, or the competition's training labels, if any."""
    if SIMULATION_TRUTH is not None:
        return [SIMULATION_TRUTH]
    labels = layout.labels_file(DATA_DIR, EDITION)
    return [str(labels)] if wildcards.split == "train" and labels.is_file() else []


def science_targets():
    """Targets of the science layer (empty when science.extract is false)."""
    if not SCIENCE["extract"]:
        return []
    splits = sorted({o.split for o in OBSERVATIONS})
    visits = sorted({(o.split, o.planet_id, o.visit) for o in OBSERVATIONS})
    return (
        observation_products("variance.npy")
        + observation_products("light_curves.parquet")
        + [
            visit_file(f"qc/{name}").format(split=s, planet=p, visit=v)
            for s, p, v in (visits if ALL_VISIT_FIGURES else ())
            for name in QC_VISIT_FIGURES
        ]
        + [
            split_file(name).format(split=s)
            for s in splits
            for name in (
                "qc_observations.csv",
                "qc_summary.png",
                "recovery.csv",
                "recovery.png",
            )
        ]
    )
