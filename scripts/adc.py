"""ADC inversion: raw uint16 parquet -> float32 cube, value = raw / gain + offset (AIRS cut to its science columns)."""

from arielcal import threads

threads.limit(snakemake.threads)

from arielcal import calib, formats, workflow

with workflow.step(snakemake, "adc") as step:
    raw = formats.read_signal(snakemake.input.signal, step.instrument, step.columns)
    gain, offset = formats.adc_constants(
        formats.read_adc_table(snakemake.input.adc_info),
        int(snakemake.wildcards.planet),
        step.instrument,
        snakemake.input.adc_info,
    )
    cube, dq = calib.adc_invert(raw, gain, offset)
    step.extra.update(gain=gain, offset=offset, raw_frames=raw.shape[-1])
    step.write_cube(cube, dq)
