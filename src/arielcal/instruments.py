"""Detector geometry and read timing of the two Ariel channels (reference doc, section 0 and 1.6)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Instrument:
    name: str
    rows: int
    cols: int
    frames: int
    """Raw frames per visit at full size (pairs of short and long reads)."""
    pair_cadence_s: float
    short_read_s: float
    """Time from reset to the first (short) read."""
    long_read_s: float
    """Time from reset to the second (long) read."""
    default_bin: int
    """CDS frames per time bin in the organisers' notebook."""
    per_column_channels: bool = False
    """A spectrometer: one spectral channel per detector column (else one channel, a photometer)."""

    @property
    def pixels(self) -> int:
        return self.rows * self.cols


AIRS = Instrument("AIRS-CH0", 32, 356, 11250, 4.8, 0.1, 4.6, 30, per_column_channels=True)
FGS1 = Instrument("FGS1", 32, 32, 135000, 0.4, 0.1, 0.2, 360)

#: AIRS detector columns [start, stop) that carry the competition's labels (the notebook's 39:321):
#: column c <-> wl_{322 - c}; the default column cut.
AIRS_LABELLED_COLUMNS = (39, 321)

INSTRUMENTS: dict[str, Instrument] = {AIRS.name: AIRS, FGS1.name: FGS1}

# Integration time of every FGS1 frame in the notebook: axis_info has no FGS1 column.
FGS1_FRAME_S = 0.1
# Rows of axis_info.parquet: the longest column (FGS1 time stamps) sets the length.
AXIS_INFO_ROWS = FGS1.frames
