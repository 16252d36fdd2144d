"""ADC inversion: raw uint16 parquet -> float32 cube, value = raw / gain + offset (AIRS cut to its science columns)."""

from arielcal import calib, steps

with steps.step(snakemake, "adc") as step:
    raw, gain, offset = step.read_raw()
    cube, dq = calib.adc_invert(raw, gain, offset, out=step.cube_out(raw.shape))
    step.write_cube(cube, dq)
