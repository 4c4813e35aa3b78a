"""A Holter-style rhythm report from labelled beats: runs, couplets, bigeminy, pauses, heart-rate trend.

Everything is read from the beats table (``time_s`` in seconds, ``label`` an AAMI letter per beat, in time
order), so it follows whatever labels are shown (the model's, an adapted model's or a reader's), and works on
reference or detected beats alike. Definitions, as Holter reports use them:

- ventricular **couplet**: exactly 2 consecutive V beats; **triplet**: exactly 3; **run**: 4 or more; a triplet or
  run over 100 bpm counts as ventricular tachycardia (slower runs are idioventricular); supraventricular runs:
  3 or more consecutive S beats;
- **bigeminy**: at least BIGEMINY_CYCLES cycles of one normal beat then one ectopic (V, or S for
  supraventricular bigeminy) beat; **trigeminy**: two normal beats then one ectopic, at least TRIGEMINY_CYCLES times;
- **pause**: an RR interval of PAUSE_S seconds or more (intervals spanning missing data left out);
- the **tachogram**: the heart rate of every RR interval (60 / RR, bpm) against time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .processing import true_runs

BIGEMINY_CYCLES = 3  # N-V pairs in a row for a bigeminy episode
TRIGEMINY_CYCLES = 3  # N-N-V triples in a row for a trigeminy episode
PAUSE_S = 2.0  # RR intervals at least this long are pauses
EVENT_COLUMNS = ("event", "start_s", "end_s", "beats", "rate_bpm", "first_beat")


def runs_of(labels: np.ndarray, cls: str) -> list[tuple[int, int]]:
    """(first, last) beat indices (inclusive) of every run of consecutive beats labelled ``cls``."""
    starts, ends = true_runs(np.asarray(labels) == cls)
    return [(int(a), int(b) - 1) for a, b in zip(starts, ends)]


def pattern_episodes(labels: np.ndarray, ectopic: str, normal_beats: int, min_cycles: int) -> list[tuple[int, int]]:
    """(first, last) beat indices of episodes where ``normal_beats`` N beats and one ``ectopic`` beat repeat at
    least ``min_cycles`` times (bigeminy: 1, trigeminy: 2)."""
    lab = np.asarray(labels)
    n, period = lab.size, normal_beats + 1
    episodes, i = [], 0
    while i + period <= n:
        cycles = 0
        j = i
        while j + period <= n and all(lab[j + k] == "N" for k in range(normal_beats)) and lab[j + normal_beats] == ectopic:
            cycles += 1
            j += period
        if cycles >= min_cycles:
            episodes.append((i, j - 1))
            i = j
        else:
            i += 1
    return episodes


def _rate(times: np.ndarray, first: int, last: int) -> float:
    """Mean rate (bpm) over the beats first..last (from the interval before the first to the last)."""
    a = max(first - 1, 0)
    span = times[last] - times[a]
    return 60.0 * (last - a) / span if span > 0 else float("nan")


def rhythm_report(table: pd.DataFrame, broken: np.ndarray | None = None) -> dict:
    """The rhythm report of one record: counts, the longest items and an events table.

    ``table``: beats (``time_s``, ``label``) in time order; ``broken``: (n-1,) bools for RR intervals spanning
    missing data (not pauses). Returns ``counts`` (ventricular couplets, triplets, runs; supraventricular
    runs; bigeminy and trigeminy episodes; pauses), ``longest_v_run`` / ``longest_sv_run`` (beats, rate_bpm,
    start_s; None without runs), ``longest_pause`` (seconds, start_s; None with fewer than 2 beats) and
    ``events``: a DataFrame, one row per event (EVENT_COLUMNS), in time order.
    """
    times = table["time_s"].to_numpy(dtype=float)
    labels = table["label"].astype(str).to_numpy()
    rows = []

    def add(kind: str, first: int, last: int) -> None:
        rows.append((kind, times[first], times[last], last - first + 1, _rate(times, first, last), first + 1))

    v_runs = runs_of(labels, "V")
    for a, b in v_runs:
        size = b - a + 1
        if size == 2:
            add("ventricular couplet", a, b)
        elif size >= 3:
            add("ventricular triplet" if size == 3 else "ventricular run", a, b)
    sv_runs = [(a, b) for a, b in runs_of(labels, "S") if b - a + 1 >= 3]
    for a, b in sv_runs:
        add("supraventricular run", a, b)
    for kind, ectopic, normal, cycles in (("ventricular bigeminy", "V", 1, BIGEMINY_CYCLES),
                                          ("ventricular trigeminy", "V", 2, TRIGEMINY_CYCLES),
                                          ("supraventricular bigeminy", "S", 1, BIGEMINY_CYCLES)):
        for a, b in pattern_episodes(labels, ectopic, normal, cycles):
            add(kind, a, b)
    rr = np.diff(times)
    usable = np.ones(rr.size, bool) if broken is None else ~np.asarray(broken, bool)
    pauses = np.flatnonzero(usable & (rr >= PAUSE_S))
    for i in pauses:
        rows.append(("pause", times[i], times[i + 1], 2, float("nan"), int(i) + 1))
    events = pd.DataFrame(rows, columns=list(EVENT_COLUMNS)).sort_values(["start_s", "event"], kind="stable")
    events = events.reset_index(drop=True)
    events["duration_s"] = (events["end_s"] - events["start_s"]).round(3)
    events["rate_bpm"] = events["rate_bpm"].round(0)

    def longest(runs):
        if not runs:
            return None
        a, b = max(runs, key=lambda r: (r[1] - r[0], -r[0]))
        return {"beats": b - a + 1, "rate_bpm": round(_rate(times, a, b), 0), "start_s": round(float(times[a]), 3)}

    counted = events["event"].value_counts()
    usable_rr = np.where(usable, rr, -np.inf)
    worst = int(np.argmax(usable_rr)) if rr.size and usable.any() else None
    return {
        "counts": {**{k: int(counted.get(k, 0)) for k in (
            "ventricular couplet", "ventricular triplet", "ventricular run", "supraventricular run",
            "ventricular bigeminy", "ventricular trigeminy", "supraventricular bigeminy", "pause")},
                   "ventricular tachycardia": int(((events["event"].isin(["ventricular triplet", "ventricular run"]))
                                                   & (events["rate_bpm"] > 100)).sum())},
        "longest_v_run": longest([r for r in v_runs if r[1] - r[0] >= 2]),
        "longest_sv_run": longest(sv_runs),
        "longest_pause": (None if worst is None else
                          {"seconds": round(float(rr[worst]), 3), "start_s": round(float(times[worst]), 3)}),
        "events": events,
    }


def tachogram(table: pd.DataFrame, broken: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(time of each RR interval's end in s, heart rate 60 / RR in bpm); intervals spanning missing data NaN."""
    times = table["time_s"].to_numpy(dtype=float)
    rr = np.diff(times)
    hr = np.where(rr > 0, 60.0 / np.where(rr > 0, rr, 1.0), np.nan)
    if broken is not None:
        hr = np.where(np.asarray(broken, bool), np.nan, hr)
    return times[1:], hr
