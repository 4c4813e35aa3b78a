"""Evaluating a model on whole MIT-BIH records: AAMI statistics over a record list, with optional noise.

Gross statistics (AAMI EC57): beats of all records are pooled before Se, +P and F1 are computed.
Paced records (102, 104, 107, 217) are never part of DS1 or DS2.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from scipy.special import softmax

from .aami import AAMI_CLASSES
from .beats import extract_beats
from .errors import InputError
from .features import beat_inputs
from .inference import predict_logits
from .metrics import AamiReport, aami_report
from .mitdb import PACED_RECORDS, load_record
from .processing import resample, resample_samples
from .records import Annotations, Record, make_record


def noise_for_snr(record: Record, noise: np.ndarray, snr_db: float, lead: int) -> np.ndarray:
    """``noise`` (mV, same rate, at least as long as the record) scaled to ``snr_db`` for one lead.

    SNR as in the MIT-BIH Noise Stress Test Database (Moody 1984): signal power is (QRS peak-to-peak
    amplitude)^2 / 8, taken as the median peak-to-peak amplitude of the reference beats' 100 ms QRS
    windows; noise power is the noise's mean square.
    """
    x = record.signal[:, lead].astype(np.float64)
    beats = record.annotations.sample
    half = int(0.05 * record.fs)
    beats = beats[(beats > half) & (beats < x.size - half)]
    idx = beats[:, None] + np.arange(-half, half + 1)[None, :]
    p2p = np.median(np.ptp(np.nan_to_num(x[idx]), axis=1))
    n = noise[: x.size].astype(np.float64)
    n = n - n.mean()
    gain = np.sqrt((p2p ** 2 / 8) / (np.mean(n ** 2) * 10 ** (snr_db / 10)))
    return n * gain


def with_noise(record: Record, noise: np.ndarray, snr_db: float, lead=None) -> Record:
    """A copy of ``record`` with ``noise`` added to one lead at ``snr_db`` (reference annotations kept)."""
    li = record.lead_index(lead)
    signal = record.signal.astype(np.float64).copy()
    signal[:, li] += noise_for_snr(record, noise, snr_db, li)
    return make_record(signal, record.fs, name=f"{record.name}+noise{snr_db:g}dB", leads=record.leads,
                       annotations=record.annotations, comments=record.comments)


def record_logits(model, names, lead=None, transform=None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per record: (logits (n, 5), reference labels (n,)) at the reference beat locations.

    ``transform(record) -> record`` may alter each record first (add noise, resample). Paced records are
    skipped. Each record is classified on its own, exactly as the app and the CLI do it.
    """
    out = {}
    for name in names:
        if name in PACED_RECORDS:
            continue
        record = load_record(name)
        if transform is not None:
            record = transform(record)
        beats = extract_beats(record, lead=lead)
        out[name] = (predict_logits(model, *beat_inputs(beats)), beats.label)
    return out


def evaluate_records(model, names, lead=None, transform=None) -> tuple[AamiReport, dict[str, AamiReport]]:
    """Pooled and per-record AAMI reports of ``model`` on mitdb records (reference beat locations)."""
    per = record_logits(model, names, lead, transform)
    per_record = {name: aami_report(y, z.argmax(axis=1)) for name, (z, y) in per.items()}
    truth = np.concatenate([y for _, y in per.values()])
    pred = np.concatenate([z.argmax(axis=1) for z, _ in per.values()])
    return aami_report(truth, pred), per_record


def per_record_table(per: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[dict]:
    """One row per record: N/S/V/F beats real, S and V found (true positives) and predicted, F predicted."""
    rows = []
    for name, (z, y) in per.items():
        p = z.argmax(axis=1)
        row = {"record": name, "beats": int(y.size)}
        for c in ("S", "V", "F"):
            k = AAMI_CLASSES.index(c)
            row[f"{c}_real"] = int((y == k).sum())
            row[f"{c}_found"] = int(((y == k) & (p == k)).sum())
            row[f"{c}_predicted"] = int((p == k).sum())
        rows.append(row)
    return rows


EVAL_RATES_HZ = (360.0, 128.0, 250.0)


def second_lead_only(record: Record) -> Record:
    """``record`` with only its ``second_lead`` (MIT-BIH: V1, V2, V4 or V5), as a recorder of that lead alone would
    give it; a record with one lead is refused."""
    lead = record.second_lead
    if lead is None:
        raise InputError(f"{record.name}: only one lead ({record.leads[0]}), no second lead to read")
    i = record.lead_index(lead)
    return replace(record, signal=record.signal[:, i: i + 1], leads=(lead,), units=(record.units[i],))


def evaluate_at_rates(model, names, rates=EVAL_RATES_HZ, lead_transform=None) -> dict[str, dict]:
    """AAMI report, per-record table and expected calibration error (with the model's temperature and
    without it: the whole rule run again at temperature 1) of ``model`` on ``names``, at each sampling rate
    (records resampled through make_record); ``lead_transform(record) -> record`` first (e.g. ``second_lead_only``)."""
    import copy

    from .calibration import expected_calibration_error

    untempered = copy.deepcopy(model)  # the same rule without the temperature (template consensus comes after it,
    untempered.temperature.fill_(1.0)  # so the served probabilities are recomputed, not rescaled)
    out = {}
    for fs in rates:
        first = lead_transform or (lambda r: r)
        transform = (None if fs == 360.0 and lead_transform is None
                     else lambda r, fs=fs: first(r) if fs == 360.0 else resample_record(first(r), fs))
        per = record_logits(model, names, transform=transform)
        z = np.concatenate([v[0] for v in per.values()])
        y = np.concatenate([v[1] for v in per.values()])
        z1 = np.concatenate([v[0] for v in record_logits(untempered, names, transform=transform).values()])
        out[f"{fs:g}Hz"] = {
            "report": aami_report(y, z.argmax(axis=1)).to_dict(),
            "ece": round(expected_calibration_error(softmax(z, axis=1), y), 4),
            "ece_uncalibrated": round(expected_calibration_error(softmax(z1, axis=1), y), 4),
            "per_record": per_record_table(per),
        }
    return out


def resample_record(record: Record, fs: float) -> Record:
    """``record`` as a recorder at ``fs`` Hz would have stored it: every lead resampled (polyphase,
    ``processing.resample``) and the reference annotations moved to the nearest sample at the new rate.
    The result goes back through ``make_record`` like any upload."""
    ann = record.annotations
    if ann is not None:
        ann = Annotations(np.minimum(resample_samples(ann.sample, record.fs, fs),
                                     int(np.floor(record.n_samples * fs / record.fs)) - 1), ann.symbol)
    return make_record(resample(record.signal, record.fs, fs), fs, name=f"{record.name}@{fs:g}Hz",
                       leads=record.leads, annotations=ann, comments=record.comments)
