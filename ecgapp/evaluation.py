"""Evaluating a model on whole MIT-BIH records: AAMI statistics over a record list, with optional noise.

Gross statistics (AAMI EC57): beats of all records are pooled before Se, +P and F1 are computed.
Paced records (102, 104, 107, 217) are never part of DS1 or DS2.
"""

from __future__ import annotations

import numpy as np

from .beats import extract_beats
from .inference import predict_beats
from .metrics import AamiReport, aami_report
from .mitdb import PACED_RECORDS, load_record
from .records import Record, make_record


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


def evaluate_records(model, names, lead=None, transform=None) -> tuple[AamiReport, dict[str, AamiReport]]:
    """Pooled and per-record AAMI reports of ``model`` on mitdb records (reference beat locations).

    ``transform(record) -> record`` may alter each record first (e.g. add noise).
    """
    names = [n for n in names if n not in PACED_RECORDS]
    truth, pred, per_record = [], [], {}
    for name in names:
        record = load_record(name)
        if transform is not None:
            record = transform(record)
        beats = extract_beats(record, lead=lead)
        p = predict_beats(model, beats).argmax(axis=1)
        truth.append(beats.label)
        pred.append(p)
        per_record[name] = aami_report(beats.label, p)
    return aami_report(np.concatenate(truth), np.concatenate(pred)), per_record
