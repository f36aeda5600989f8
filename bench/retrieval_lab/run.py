"""Run retrieval configurations and print recall@5/10/20 per dataset as a markdown table.

    /tmp/labenv/bin/python run.py                       # every configuration in CONFIGS
    /tmp/labenv/bin/python run.py fts.plain rec         # selected ones (prefix match on names)
    /tmp/labenv/bin/python run.py --split rec           # also: halves of the conversations separately

Datasets: locomo = LoCoMo categories 1-4 (1,536 questions), locomo5 = LoCoMo incl. adversarial category 5
(1,982), beam = BEAM 100K (355). See data.py for the message/evidence mapping and lab.recall for averaging.
"""

from __future__ import annotations

import argparse
import sys

import lab
from methods import CONFIGS

DATASETS = {"locomo": "locomo", "locomo5": "locomo_all", "beam": "beam"}


def table(names: list[str], split: bool) -> None:
    cols = list(DATASETS)
    head = "| config | " + " | ".join(f"{c} R@5 / R@10 / R@20" for c in cols) + " |"
    print(head)
    print("|" + "---|" * (len(cols) + 1))
    for name in names:
        cells = []
        for label, ds in DATASETS.items():
            rk = CONFIGS[name](ds)
            r = lab.recall(ds, rk)
            cell = f"{r[5]:.3f} / **{r[10]:.3f}** / {r[20]:.3f}"
            if split:
                n = len(lab.dataset(ds))
                a = lab.recall(ds, rk, convs=set(range(0, n, 2)))[10]
                b = lab.recall(ds, rk, convs=set(range(1, n, 2)))[10]
                cell += f" (even {a:.3f}, odd {b:.3f})"
            cells.append(cell)
            del label
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("names", nargs="*")
    p.add_argument("--split", action="store_true", help="also report recall@10 on even/odd conversations")
    a = p.parse_args(argv)
    names = [n for n in CONFIGS if not a.names or any(n.startswith(x) for x in a.names)]
    table(names, a.split)


if __name__ == "__main__":
    main(sys.argv[1:])
