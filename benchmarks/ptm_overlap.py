"""How often PTM's overlap thresholds flag a set of random **real** images (the measurement behind PTM's per-set
rule, sitting 17; :mod:`condensekit.medical.ptm`).

For each flag, class and set size k: the pair rule's threshold is the one the official seed-0 PTM run at IPC 10
recorded (``overlap_threshold_pair`` in its entry's diagnostics, or ``overlap_threshold`` for an entry made before the
set rule); the set rule's is :func:`~condensekit.medical.ptm.set_threshold` (generator seeded 0, 1,000 subsets) floored
at the pair threshold, as ``PTM.setup`` makes it. Each threshold is then checked on 200 other random real subsets of
size k (:func:`~condensekit.medical.ptm.overlap_flag_rates`, seed 1): the share of subsets with an image flagged and
the mean number flagged. Entries go to ``benchmarks/results/ptm_overlap.json`` (key ``flag/class{c}/k{k}``).

Example::

    CONDENSEKIT_DATA=/work/shared/data python benchmarks/ptm_overlap.py --flags pneumoniamnist,breastmnist
    python benchmarks/ptm_overlap.py --table
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from common import hardware, load, records_command, save_entry  # benchmarks/ is on sys.path when run as a script

from condensekit.medical.data import load_medmnist
from condensekit.medical.ptm import overlap_flag_rates, set_threshold

RESULTS = Path(__file__).resolve().parent / "results" / "ptm_overlap.json"
MEDICAL = Path(__file__).resolve().parent / "results" / "medical.json"
#: The official seed-0 PTM entry at IPC 10 of each flag, whose pair thresholds the measurement uses.
OFFICIAL = {
    "pneumoniamnist": "pneumoniamnist/ptm/ipc10/cpu/convnet",
    "breastmnist": "breastmnist/ptm/ipc10/cpu/convnet/lr_lr=1e-06,max_start_epoch=8/expert_epochs=15",
}


def pair_thresholds(entry: dict[str, Any]) -> dict[str, float]:
    """The pair rule's thresholds a PTM entry recorded, by class."""
    diag = entry["diagnostics"]
    return diag.get("overlap_threshold_pair") or diag["overlap_threshold"]


def measure(x: torch.Tensor, k: int, pair: float, q: float = 0.99) -> dict[str, Any]:
    """One class's images ``x`` at set size ``k``: both thresholds and how often each flags random real sets."""
    z = F.normalize(x.flatten(1), dim=1)
    set_t = max(float(set_threshold(z, k, q, torch.Generator(device=x.device).manual_seed(0))), pair)
    return {
        "pair_threshold": pair,
        "pair_rule": overlap_flag_rates(x, k, pair, subsets=200, seed=1),
        "set_threshold": round(set_t, 4),
        "set_rule": overlap_flag_rates(x, k, set_t, subsets=200, seed=1),
    }


def table(results: dict[str, Any]) -> str:
    rows = ["| flag | class | k | pair threshold | pair rule: sets flagged / images per set | set threshold "
            "| set rule: sets flagged / images per set |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for e in results["entries"].values():
        p, s = e["pair_rule"], e["set_rule"]
        rows.append(
            f"| {e['dataset']} | {e['class']} | {e['k']} | {e['pair_threshold']:.4f} "
            f"| {100 * p['subsets_flagged_share']:.1f} % / {p['images_flagged_mean']:.2f} | {e['set_threshold']:.4f} "
            f"| {100 * s['subsets_flagged_share']:.1f} % / {s['images_flagged_mean']:.3f} |"
        )
    return "\n".join(rows)


@records_command
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--flags", default="pneumoniamnist,breastmnist")
    p.add_argument("--sizes", default="10,50")
    p.add_argument("--root", default=None)
    p.add_argument("--table", action="store_true")
    ns = p.parse_args(argv)
    if ns.table:
        print(table(load(RESULTS)))
        return 0
    official = load(MEDICAL)["entries"]
    for flag in ns.flags.split(","):
        if flag not in OFFICIAL:
            raise ValueError(f"Invalid value {flag!r} for argument --flags. Valid values are {sorted(OFFICIAL)}")
        data, pair = load_medmnist(flag, ns.root), pair_thresholds(official[OFFICIAL[flag]])
        for c in range(data.num_classes):
            x = data.x_train[data.y_train.reshape(-1) == c]
            for k in (int(s) for s in ns.sizes.split(",")):
                key = f"{flag}/class{c}/k{k}"
                entry = {"dataset": flag, "class": c, "k": k, "train_images": int(x.shape[0]),
                         "pair_from": OFFICIAL[flag], "hardware": hardware()}  # fmt: skip
                entry |= measure(x, k, float(pair[str(c)]))
                save_entry(key, entry, RESULTS)
                print(key, entry["pair_rule"], entry["set_threshold"], entry["set_rule"], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
