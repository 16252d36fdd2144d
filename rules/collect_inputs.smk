# Input and params functions of rules/collect.smk, and the stacks written after a failed run.

from types import SimpleNamespace as Wildcards

# Every (split, instrument) stack of the run: also where every observation was rejected (its
# stack is then all NaN, and observations.csv says "failed" for each).
STACKS = sorted({(o.split, o.instrument) for o in REQUESTED})


@job_function
def split_stacks(wildcards):
    """The stacks of a split (observations.csv is written after them)."""
    return [
        paths.stacked(RESULTS).format(split=split, instrument=instrument)
        for split, instrument in STACKS
        if split == wildcards.split
    ]


@job_function
def stack_slots_of_split(wildcards):
    """{instrument: slots} of every stack of the split."""
    return {
        instrument: split_slots(Wildcards(split=split, instrument=instrument))
        for split, instrument in STACKS
        if split == wildcards.split
    }


def salvage_stacks():
    """After a failed run: the stacks it could not write, from the observations that succeeded
    (NaN rows for the others), and observations.csv (arielcal.stacks.salvage)."""
    from arielcal import stacks

    by_split = {}
    for split, instrument in STACKS:
        by_split.setdefault(split, {})[instrument] = split_slots(
            Wildcards(split=split, instrument=instrument)
        )
    observations = {
        split: split_observations(Wildcards(split=split)) for split in by_split
    }

    def shape_of(split, instrument):
        wildcards = Wildcards(split=split, instrument=instrument)
        return stacks.nan_shape(
            AXIS_INFO, instrument, columns_of(wildcards), frames_per_bin(wildcards)
        )

    try:
        for path in stacks.salvage(
            by_split, observations, RESULTS, "logs", logger.warning, shape_of
        ):
            logger.warning(f"Wrote {path} from the observations that succeeded")
    except Exception as exc:
        logger.error(f"Could not write the stacks of the failed run: {exc}")


def _outputs_to_check():
    """The .npy outputs of this run that an earlier run may have left damaged: every
    observation's product (and science) arrays and the stacks."""
    names = ["calibrated.npy", "dq.npy"] + (["nvalid.npy"] if "bin" in ENABLED else [])
    if config.get("inpaint", False):
        names.append("calibrated_inpainted.npy")
    if config["science"]["extract"]:
        names += ["variance.npy", "spectral.npy", "white.npy"]
    stacked = [paths.stacked(RESULTS).format(split=s, instrument=i) for s, i in STACKS]
    return [path for name in names for path in observation_products(name)] + stacked


# A damaged output of an earlier run (a .npy cut short by hand or by a copy, which Snakemake's
# mtime checks cannot see) is rebuilt by this run, with what depends on it, as `--forcerun
# <file>` would (a dry run lists them). Headers only, in the process that schedules the run
# (arielcal.preflight.damaged_outputs).
if workflow.is_main_process:
    DAMAGED = preflight.damaged_outputs(_outputs_to_check())
    for _path, _damage in DAMAGED.items():
        logger.warning(
            f"{_path}: expected a complete .npy array, found {_damage}; rebuilding it"
        )
    snakemake_shim.force_rerun(workflow, DAMAGED)
