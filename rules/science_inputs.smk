# Input functions and settings of rules/science.smk, grouped by the rule that uses them
# (snakemake --lint wants functions apart from rules).


# --- Settings, paths and indexes of the science layer.


# The `science:` config keys, with these defaults for a config that leaves some out.
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


def _split_observations_of(wildcards):
    return [o for o in OBSERVATIONS if o.split == wildcards.split]


def _split_visits_of(wildcards):
    return sorted(
        {(o.split, o.planet_id, o.visit) for o in _split_observations_of(wildcards)}
    )


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


# --- rule extract


def science_setting(key):
    """params: function giving this instrument's value of science.<key>."""

    @job_function
    def _value(wildcards):
        return SCIENCE[key][wildcards.instrument]

    return _value


# --- rule transit


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


# --- rules qc_observation and qc_worst (the per-visit figures)


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


# --- rules qc_split, qc_worst and recovery (one file per observation or visit of a split)


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


# --- rule recovery


@job_function
def truth_files(wildcards):
    """The injected truth of a simulated dataset, or the competition's training labels, if any."""
    if SIMULATION_TRUTH is not None:
        return [SIMULATION_TRUTH]
    labels = layout.labels_file(DATA_DIR, EDITION)
    return [str(labels)] if wildcards.split == "train" and labels.is_file() else []
