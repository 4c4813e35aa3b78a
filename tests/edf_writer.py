"""A minimal EDF writer for tests: builds files with several rates, annotation channels, odd headers."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_edf(path: Path, channels, record_s: float = 1.0, reserved: str = "", n_records: int | None = None,
              digital=(-32768, 32767)) -> Path:
    """channels: list of (label, unit, fs_hz, physical_values, (phys_min, phys_max)). Returns path."""
    spr = [int(round(fs * record_s)) for _, _, fs, _, _ in channels]
    n = min(len(v) // s for (_, _, _, v, _), s in zip(channels, spr))
    ns = len(channels)
    dmin, dmax = digital

    def pad(text, width):
        return str(text)[:width].ljust(width).encode("latin-1")

    head = pad("0", 8) + pad("X X X X", 80) + pad("Startdate X X X X", 80) + pad("01.01.01", 8)
    head += pad("00.00.00", 8) + pad(256 * (ns + 1), 8) + pad(reserved, 44)
    head += pad(n if n_records is None else n_records, 8) + pad(f"{record_s:g}", 8) + pad(ns, 4)
    fields = [
        [pad(c[0], 16) for c in channels], [pad("", 80) for _ in channels], [pad(c[1], 8) for c in channels],
        [pad(f"{c[4][0]:g}", 8) for c in channels], [pad(f"{c[4][1]:g}", 8) for c in channels],
        [pad(dmin, 8) for _ in channels], [pad(dmax, 8) for _ in channels], [pad("", 80) for _ in channels],
        [pad(s, 8) for s in spr], [pad("", 32) for _ in channels],
    ]
    head += b"".join(b"".join(f) for f in fields)
    blocks = []
    for (_, _, _, values, (pmin, pmax)), s in zip(channels, spr):
        v = np.asarray(values[: n * s], dtype=np.float64)
        d = np.round((v - pmin) / (pmax - pmin) * (dmax - dmin) + dmin).clip(dmin, dmax).astype("<i2")
        blocks.append(d.reshape(n, s))
    path.write_bytes(head + np.hstack(blocks).tobytes())
    return path
