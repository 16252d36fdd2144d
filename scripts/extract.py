"""Per observation: the per-pixel variance of the product and its light curves (docs/science.md).

variance.npy; spectral.npy (2, time, channel) and white.npy (2, time) = [flux, variance] in e- per
bin; light_curves.parquet (long table) and light_curves.json (axes, channels, aperture, background).
"""

from pathlib import Path

from arielcal import formats, product, science, science_io, steps

with steps.step(snakemake, "extract") as step:
    made = product.open_product(Path(snakemake.input.calibrated).parent)
    stages = [stage["stage"] for stage in made.meta["stages"]]
    step.columns = made.columns
    # Calibration maps are (row, column); the product is (time, column, row).
    read = step.calibration("read").T
    dark = step.calibration("dark").T if "dark" in stages else None
    divisor = product.flat_divisor(made.dq, step.calibration("flat").T) if "flat" in stages else None
    inst = step.instrument
    frames_per_bin = int(made.meta["params"].get("frames_per_bin", 1))
    accumulation_s = inst.long_read_s - inst.short_read_s
    variance = science.variance_of_product(
        made.calibrated, stages, frames_per_bin, read, dark, divisor, made.nvalid, accumulation_s
    )
    formats.save_npy(snakemake.output.variance, variance)

    aperture, background = snakemake.params.aperture, snakemake.params.background_outside
    curves = science.observation_curves(
        made.calibrated, variance, made.columns, inst.per_column_channels, aperture, background
    )
    lights = science_io.write_light_curves(
        snakemake.output, curves, made.time_h, made.wavelength_um, aperture, background
    )
    # (time, [column, row]): the pointing the depth fits decorrelate against
    step.extra.update(lights, centroid=science.aperture_centroid(made.calibrated, curves.aperture).tolist())
    steps.log.info("%d channels, %d in the white light curve", curves.curves.flux.shape[1], lights["white_channels"])
