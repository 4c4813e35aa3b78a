"""The one record type every ECG source becomes (MIT-BIH, uploaded WFDB, CSV, EDF, arrays).

``make_record`` is the single gate: it checks the sampling rate and length, converts amplitudes to mV,
drops leads that hold no data, interpolates short NaN gaps and masks long ones (left as NaN, never filled
with made-up ECG), and writes a note for everything it changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import InputError

MIN_FS_HZ = 50.0
MAX_FS_HZ = 10_000.0
MIN_DURATION_S = 2.0
MAX_INTERPOLATED_GAP_S = 0.05  # NaN runs up to 50 ms (18 samples at 360 Hz) are bridged linearly
PREFERRED_LEAD = "MLII"
# Other names of lead II, the limb lead MLII stands in for (the model is trained on MLII): tried, in this order,
# when a record has no MLII, compared upper-case without spaces, dashes, dots or underscores ("Lead II", "ECG II",
# "D2": the name in French- and Spanish-speaking clinics)
LEAD_II_NAMES = ("II", "ML2", "LEADII", "ECGII", "DII", "D2")

# Factor that turns a value in the given unit into millivolts.
_TO_MV = {
    "mv": 1.0, "millivolt": 1.0, "millivolts": 1.0,
    "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "microvolt": 1e-3, "microvolts": 1e-3,
    "v": 1e3, "volt": 1e3, "volts": 1e3,
    "nv": 1e-6,
}


@dataclass(frozen=True, eq=False)
class Annotations:
    """Reference annotations: ``sample`` (int64 indices at the record's rate) and MIT-BIH ``symbol``s."""

    sample: np.ndarray
    symbol: np.ndarray

    def __post_init__(self):
        sample = np.asarray(self.sample, dtype=np.int64).reshape(-1)
        symbol = np.asarray(self.symbol, dtype=str).reshape(-1)
        if sample.shape != symbol.shape:
            raise InputError(f"annotations: {sample.size} samples but {symbol.size} symbols")
        order = np.argsort(sample, kind="stable")
        object.__setattr__(self, "sample", sample[order])
        object.__setattr__(self, "symbol", symbol[order])

    def __len__(self) -> int:
        return int(self.sample.size)


@dataclass(frozen=True, eq=False)
class Record:
    """An ECG: ``signal`` is (n_samples, n_leads) float32 in mV, NaN where masked; ``fs`` in Hz."""

    name: str
    signal: np.ndarray
    fs: float
    leads: tuple[str, ...]
    units: tuple[str, ...]
    annotations: Annotations | None = None
    comments: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def n_samples(self) -> int:
        return int(self.signal.shape[0])

    @property
    def n_leads(self) -> int:
        return int(self.signal.shape[1])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    @property
    def default_lead(self) -> str:
        """MLII when the record has it (the lead MIT-BIH models are trained on), else lead II under another name
        (``LEAD_II_NAMES``: "II" in a 12-lead record, "Lead II", "ECG II"), else the first lead."""
        return preferred_lead(self.leads)

    @property
    def second_lead(self) -> str | None:
        """The first lead other than ``default_lead`` (in MIT-BIH: V1, or V2, V4 or V5 beside MLII), or None."""
        return next((lead for lead in self.leads if lead != self.default_lead), None)

    def lead_index(self, lead: str | int | None = None) -> int:
        """Column of ``lead`` (name or index; None picks ``default_lead``)."""
        if lead is None:
            lead = self.default_lead
        if isinstance(lead, (int, np.integer)):
            if not 0 <= lead < self.n_leads:
                raise InputError(f"{self.name}: lead index {lead} out of range (record has {self.n_leads})")
            return int(lead)
        if lead not in self.leads:
            raise InputError(f"{self.name}: no lead {lead!r}; leads are {', '.join(self.leads)}")
        return self.leads.index(lead)

    def lead_signal(self, lead: str | int | None = None) -> np.ndarray:
        """One lead as a 1-D float32 array in mV (NaN where masked)."""
        return self.signal[:, self.lead_index(lead)]


def _lead_key(name: str) -> str:
    return "".join(c for c in str(name).upper() if c not in " -_.")


def preferred_lead(leads) -> str:
    """The lead to read by default among ``leads`` (names): MLII, else lead II under one of ``LEAD_II_NAMES``,
    else the first. A 12-lead record's first lead is lead I, whose beats look unlike the MLII beats the model
    learned from; its lead II is the nearest to them."""
    keys = [_lead_key(lead) for lead in leads]
    for wanted in (PREFERRED_LEAD, *LEAD_II_NAMES):
        if wanted in keys:
            return leads[keys.index(wanted)]
    return leads[0]


def lead_caption(lead: str) -> str:
    """What a reader should know about reading ``lead`` with a model trained on MIT-BIH's MLII."""
    if _lead_key(lead) in LEAD_II_NAMES:
        named = "" if str(lead).strip() == "II" else f" ({lead})"
        return (f"This is lead II{named}: the model was trained on MIT-BIH lead MLII, a modified lead II and the "
                "nearest lead, so beat shapes differ a little.")
    return ("The model was trained on MIT-BIH lead MLII (a modified lead II); other leads are less reliable. Read in V1 "
            "(MIT-BIH's test half, benchmarks/results/ds2_second_lead.md), it found 89% of ventricular beats against 95% "
            "in MLII, supraventricular beats about as well; leads other than V1 and lead II are untested.")


def check_sampling_rate(fs, source: str) -> float:
    """Return ``fs`` as float if it is a plausible ECG sampling rate in Hz, else raise InputError."""
    try:
        fs = float(fs)
    except (TypeError, ValueError):
        raise InputError(f"{source}: sampling rate {fs!r} is not a number") from None
    if not np.isfinite(fs) or fs <= 0:
        raise InputError(f"{source}: sampling rate must be a positive number of Hz, got {fs:g}")
    if not MIN_FS_HZ <= fs <= MAX_FS_HZ:
        raise InputError(
            f"{source}: sampling rate {fs:g} Hz is outside the supported range "
            f"{MIN_FS_HZ:g}-{MAX_FS_HZ:g} Hz; check the header or the value you entered"
        )
    return fs


def mv_scale(unit: str | None) -> float | None:
    """Factor from ``unit`` to mV; 1.0 for an empty unit (WFDB's default is mV); None if not a voltage."""
    u = (unit or "").strip().lower()
    if u in ("", "nu"):
        return 1.0
    return _TO_MV.get(u)


def lead_label(lead: str) -> str:
    """``lead V5`` for notes and messages; a default name such as ``lead 1`` is not prefixed twice."""
    return lead if lead.lower().startswith("lead ") else f"lead {lead}"


def repair_gaps(x: np.ndarray, fs: float, lead: str) -> tuple[np.ndarray, list[str]]:
    """Linearly bridge interior NaN runs up to MAX_INTERPOLATED_GAP_S; leave longer ones NaN (masked).

    ``x`` is one lead (1-D, mV). Returns the repaired copy and human-readable notes of what was done.
    """
    nan = ~np.isfinite(x)
    if not nan.any():
        return x, []
    x = np.where(nan, np.nan, x).astype(np.float32)
    from .processing import true_runs  # here: scipy (processing) is not needed to read a file's header

    starts, ends = true_runs(nan)
    lengths = ends - starts
    short = (lengths <= MAX_INTERPOLATED_GAP_S * fs) & (starts > 0) & (ends < x.size)
    notes = []
    if short.any():
        fill = np.concatenate([np.arange(s, e) for s, e in zip(starts[short], ends[short])])
        good = np.flatnonzero(~nan)
        x[fill] = np.interp(fill, good, x[good])
        notes.append(
            f"{lead_label(lead)}: {int(short.sum())} short gap(s) of missing samples (up to "
            f"{lengths[short].max() / fs * 1000:.0f} ms) interpolated"
        )
    if (~short).any():
        masked = int(lengths[~short].sum())
        notes.append(
            f"{lead_label(lead)}: {int((~short).sum())} gap(s) of missing samples ({masked / fs:.2f} s, "
            f"{100 * masked / x.size:.1f}% of the lead) masked: shown as gaps, no beats taken from them"
        )
    return x, notes


MAX_ABS_MV = 1e6  # no recorded ECG value reaches 1 kV, even ADC counts read as mV (at most 32,768): corrupt
LARGE_MV = 50.0  # surface ECG spans a few mV: a 99.9th-percentile excursion beyond this suggests wrong units


def make_record(
    signal,
    fs,
    *,
    name: str,
    leads=None,
    units=None,
    annotations: Annotations | None = None,
    comments=(),
    notes=(),
    source: str | None = None,
) -> Record:
    """Validate and normalise raw samples into a Record.

    ``signal``: (n_samples,) or (n_samples, n_leads) numbers in ``units`` (default mV) at ``fs`` Hz.
    ``source`` names the input in error messages (defaults to ``name``).
    """
    source = source or name
    fs = check_sampling_rate(fs, source)
    try:
        x = np.asarray(signal)
        if x.dtype != np.float32:  # float32 input (large CSVs) stays float32: no full-size float64 copy
            x = x.astype(np.float64, copy=False)
    except (TypeError, ValueError):
        raise InputError(f"{source}: signal values are not numbers") from None
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] == 0:
        raise InputError(f"{source}: expected samples x leads, got an array of shape {x.shape}")
    n, n_leads = x.shape
    if n < n_leads and n <= 16 and n_leads >= MIN_DURATION_S * fs:
        raise InputError(f"{source}: got {n} rows of {n_leads} values: that looks like leads x samples; "
                         f"pass samples x leads (transpose the array)")
    if n < MIN_DURATION_S * fs:
        raise InputError(
            f"{source}: the signal is {n / fs:.2f} s long ({n} samples at {fs:g} Hz); "
            f"at least {MIN_DURATION_S:g} s is needed"
        )
    leads = [str(s) for s in leads] if leads is not None else [f"lead {i + 1}" for i in range(n_leads)]
    units = [str(u) if u is not None else "" for u in units] if units is not None else ["mV"] * n_leads
    if len(leads) != n_leads or len(units) != n_leads:
        raise InputError(f"{source}: {n_leads} leads but {len(leads)} names and {len(units)} units")

    notes = list(notes)
    original = list(leads)
    for i, lead in enumerate(original):
        if lead in original[:i]:  # two columns called "ECG": keep both, distinguishable
            leads[i] = f"{lead} ({original[:i].count(lead) + 1})"
    keep, columns = [], []
    for i, (lead, unit) in enumerate(zip(leads, units)):
        scale = mv_scale(unit)
        if scale is None:
            notes.append(f"{lead_label(lead)}: units {unit!r} are not a voltage; channel left out")
            continue
        col = x[:, i] * scale if scale != 1.0 else x[:, i]
        with np.errstate(invalid="ignore"):  # inf: what overflowed on the way in (1e40 read as float32)
            absurd = (col > MAX_ABS_MV) | (col < -MAX_ABS_MV)
        present = np.isfinite(col) | absurd  # every sample with a value, however absurd
        if absurd.any() and absurd.sum() > 0.5 * present.sum():
            notes.append(f"{lead_label(lead)}: most values are beyond ±{MAX_ABS_MV:g} mV, which no ECG reaches "
                         f"(wrong units or gain, or not an ECG); lead left out")
            continue
        if absurd.any():  # corrupt samples: read as missing, like NaN
            notes.append(f"{lead_label(lead)}: {int(absurd.sum())} sample(s) beyond ±{MAX_ABS_MV:g} mV, which no "
                         f"ECG reaches, treated as missing")
            col = np.where(absurd, np.nan, col)
        if not present.any():
            notes.append(f"{lead_label(lead)}: no valid samples (all NaN or empty); lead left out")
            continue
        probe = col[:: max(1, col.size // 2_000_000)].astype(np.float64)  # a long lead: every k-th sample
        size = float(np.nanpercentile(np.abs(probe - np.nanmedian(probe)), 99.9))
        if size > LARGE_MV:
            notes.append(f"{lead_label(lead)}: amplitudes of {size:,.0f} mV, far above an ECG's few mV: check the "
                         f"units (µV or ADC counts read as mV?); beats are still classified (the model reads "
                         f"shape, scaled per record) but the mV grid is wrong")
        if scale != 1.0:
            notes.append(f"{lead_label(lead)}: converted from {unit} to mV")
        col, gap_notes = repair_gaps(col, fs, lead)
        notes.extend(gap_notes)
        keep.append(lead)
        columns.append(col.astype(np.float32, copy=False))
    if not columns:
        why = "; ".join(n for n in notes if n.endswith("left out"))
        raise InputError(f"{source}: no usable lead: {why or 'every lead is empty, all NaN, or not in volts'}")

    if annotations is not None and len(annotations):
        inside = (annotations.sample >= 0) & (annotations.sample < n)
        if not inside.all():
            notes.append(f"{int((~inside).sum())} annotation(s) outside the signal were ignored")
            annotations = Annotations(annotations.sample[inside], annotations.symbol[inside])
    return Record(
        name=str(name),
        signal=(x if len(columns) == n_leads and all(np.shares_memory(c, x) for c in columns)  # nothing changed:
                else columns[0][:, None] if len(columns) == 1 else np.column_stack(columns)),  # no copy
        fs=fs,
        leads=tuple(keep),
        units=("mV",) * len(keep),
        annotations=annotations,
        comments=tuple(str(c) for c in comments),
        notes=tuple(notes),
    )
