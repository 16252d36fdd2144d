# Input and params functions of rules/collect.smk, and the stacks written after a failed run.

from types import SimpleNamespace as Wildcards

# Every (split, instrument) stack of the run.
STACKS = sorted({(o.split, o.instrument) for o in OBSERVATIONS})


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
    try:
        for path in stacks.salvage(
            by_split, observations, RESULTS, "logs", logger.warning
        ):
            logger.warning(f"Wrote {path} from the observations that succeeded")
    except Exception as exc:
        logger.error(f"Could not write the stacks of the failed run: {exc}")
