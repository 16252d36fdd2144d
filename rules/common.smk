import os

from arielcal import config as arielcal_config
from arielcal import layout, paths, simulate
from arielcal.formats import CALIBRATION_MAPS
from arielcal.errors import InputError
from arielcal.instruments import INSTRUMENTS

arielcal_config.validate(
    config,
    source=", ".join(map(str, workflow.configfiles)) or "config",
    schema=arielcal_config.load_schema(workflow.source_path("../config/schema.yaml")),
)

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
    edition, found = layout.discover(config["data_dir"], config["splits"])
    return edition, config["data_dir"], None, found


EDITION, DATA_DIR, SIMULATION, _ALL_OBSERVATIONS = _observations()
_PLANETS = None if config.get("planets") is None else set(config["planets"])
OBSERVATIONS = [
    o
    for o in _ALL_OBSERVATIONS
    if o.split in config["splits"]
    and o.instrument in config["instruments"]
    and (_PLANETS is None or o.planet_id in _PLANETS)
]
OBSERVATION_SET = set(OBSERVATIONS)
if not OBSERVATIONS:
    raise InputError(
        DATA_DIR,
        f"observations for splits {config['splits']}, instruments {config['instruments']}"
        + ("" if _PLANETS is None else f", planets {sorted(_PLANETS)}"),
        "none",
    )


wildcard_constraints:
    split="train|test",
    planet=r"\d+",
    visit=r"\d+",
    instrument="AIRS-CH0|FGS1",
    stage="|".join(STAGES),


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


def columns_of(wildcards):
    """Detector columns kept for this instrument: the AIRS science cut, all FGS1 columns."""
    if wildcards.instrument == "AIRS-CH0":
        return list(config["airs_columns"])
    return [0, INSTRUMENTS[wildcards.instrument].cols]


def frames_per_bin(wildcards):
    """CDS frames per time sample of the product: 1 when binning is off."""
    return config["binning"][wildcards.instrument] if "bin" in ENABLED else 1


def product_outputs():
    """The files of one observation product, the same in staged and fused mode."""
    outputs = {
        name: paths.product(RESULTS, f"{name}.npy") for name in ("calibrated", "dq")
    }
    if "bin" in ENABLED:
        outputs["nvalid"] = paths.product(RESULTS, "nvalid.npy")
    outputs["meta"] = paths.product(RESULTS, "meta.json")
    return outputs


def _visit(wildcards):
    return int(getattr(wildcards, "visit", 0))


def signal_file(wildcards):
    return str(
        layout.signal_file(
            DATA_DIR,
            EDITION,
            wildcards.split,
            int(wildcards.planet),
            _visit(wildcards),
            wildcards.instrument,
        )
    )


def calibration_file(kind):
    def _path(wildcards):
        return str(
            layout.calibration_file(
                DATA_DIR,
                EDITION,
                wildcards.split,
                int(wildcards.planet),
                _visit(wildcards),
                wildcards.instrument,
                kind,
            )
        )

    return _path


def adc_info_file(wildcards):
    return str(layout.adc_info_file(DATA_DIR, EDITION, wildcards.split))


AXIS_INFO = str(layout.axis_info_file(DATA_DIR))


def observation_products(name):
    return [paths.product(RESULTS, name).format(**o.wildcards) for o in OBSERVATIONS]


def collect_targets():
    splits = sorted({o.split for o in OBSERVATIONS})
    stacks = sorted({(o.split, o.instrument) for o in OBSERVATIONS})
    return (
        observation_products("calibrated.npy")
        + [paths.observations_table(RESULTS).format(split=s) for s in splits]
        + [paths.stacked(RESULTS).format(split=s, instrument=i) for s, i in stacks]
    )


def stage_outputs(stage):
    return {
        "cube": intermediate(paths.stage_cube(RESULTS, stage)),
        "dq": intermediate(paths.stage_dq(RESULTS, stage)),
        "meta": intermediate(paths.stage_meta(RESULTS, stage)),
    }


def _dataset_pattern(function, *args):
    """A layout path with Snakemake wildcards; 2024 has no visit suffix, hence no {visit}."""
    return str(function(DATA_DIR, EDITION, "{split}", "{planet}", "{visit}", *args))


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
