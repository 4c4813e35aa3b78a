"""Whether two weight files hold the same network, tensor by tensor (the README's "bit for bit" claims).

    .venv/bin/python -m benchmarks.same_weights weights/hybrid.pt runs/ablation/hybrid_s0.pt

Prints how many tensors the two state dicts hold, which differ (with their largest absolute difference) and which
only one holds; exits 1 unless every tensor is equal.
"""

from __future__ import annotations

import argparse
import sys

import torch


def compare(a: dict, b: dict) -> tuple[list[str], list[str]]:
    """(names of tensors in both that differ, names in only one) of two state dicts."""
    differ = [k for k in a.keys() & b.keys() if not torch.equal(a[k], b[k])]
    return sorted(differ), sorted(a.keys() ^ b.keys())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    args = parser.parse_args()
    a, b = (torch.load(p, map_location="cpu", weights_only=True) for p in (args.a, args.b))
    differ, alone = compare(a, b)
    print(f"{len(a.keys() & b.keys())} tensors in both; {len(differ)} differ; {len(alone)} in only one")
    for k in differ:
        print(f"  {k}: largest difference {(a[k].double() - b[k].double()).abs().max().item():.3g}")
    for k in alone:
        print(f"  {k}: only in {args.a if k in a else args.b}")
    sys.exit(0 if not differ and not alone else 1)


if __name__ == "__main__":
    main()
