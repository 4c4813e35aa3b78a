"""Probe: does the compensatory pause tell an isolated ventricular premature beat from a supraventricular one here?

Run from the project root: .venv/bin/python -m benchmarks.probe_compensatory_pause

The textbook sign: after a ventricular premature beat the sinus node is not reset, so the intervals before and after it
sum to two sinus cycles (a full compensatory pause); an atrial premature beat resets it (less than compensatory). A
beat's explanation could say which it is. This reads every DS1 record's reference S and V beats that come early
(pre RR under 90% of the local mean RR) between two N beats, and prints the share whose two intervals sum to at
least 85-95% of twice the cycle before them (``beats.rr_features``: pre RR / pre_rr_prev), and the share under 60%
(interpolated). No network; DS2 is not read. Writes benchmarks/results/compensatory_pause_probe.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecgapp.aami import AAMI_CLASSES
from ecgapp.beats import RR_FEATURES, extract_beats
from ecgapp.mitdb import DS1, load_record

RESULTS = Path("benchmarks/results/compensatory_pause_probe.md")
SHARES = (0.85, 0.90, 0.95)


def pause_ratio(rr: np.ndarray) -> np.ndarray:
    """(pre RR + post RR) / (2 x the RR interval before the pre RR), per beat, from (n, 10) ``rr`` (RR_FEATURES)."""
    pre, post = rr[:, RR_FEATURES.index("pre_rr_s")], rr[:, RR_FEATURES.index("post_rr_s")]
    return (pre + post) / (2 * pre / rr[:, RR_FEATURES.index("pre_rr_prev")])


def main() -> None:
    n = AAMI_CLASSES.index("N")
    ratios = {c: [] for c in ("S", "V")}
    for name in DS1:
        beats = extract_beats(load_record(name))
        y = beats.label
        between_n = np.r_[False, y[:-1] == n] & np.r_[y[1:] == n, False]
        early = beats.rr[:, RR_FEATURES.index("pre_rr_local")] < 0.9
        for c in ratios:
            m = (y == AAMI_CLASSES.index(c)) & between_n & early
            ratios[c].append(pause_ratio(beats.rr[m]))
    lines = ["# The compensatory pause, DS1 reference labels", "", "`.venv/bin/python -m benchmarks.probe_compensatory_pause`",
             "", "Early beats (pre RR under 90% of the local mean RR) with an N beat on each side; the ratio is the two "
             "intervals around the beat over twice the cycle before them (1 = a full compensatory pause).", "",
             "| class | beats | " + " | ".join(f"ratio >= {s:g}" for s in SHARES) + " | ratio < 0.6 | median ratio |",
             "| --- | ---: | " + " | ".join("---:" for _ in SHARES) + " | ---: | ---: |"]
    for c, parts in ratios.items():
        r = np.concatenate(parts)
        lines.append(f"| {c} | {r.size} | " + " | ".join(f"{(r >= s).mean():.2f}" for s in SHARES)
                     + f" | {(r < 0.6).mean():.2f} | {np.median(r):.2f} |")
    text = "\n".join(lines) + "\n"
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
