"""A training run's records: a CSV log (one row per logged step or evaluation) and a PNG of the curves (loss terms,
validation metrics, learning rate), rewritten at each evaluation."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class RunLog:
    """Appends rows to OUT/log.csv. Columns grow as new keys appear (the file is rewritten then)."""

    def __init__(self, out_dir: Path, resume: bool = False) -> None:
        self.path = Path(out_dir) / "log.csv"
        self.rows: list[dict[str, Any]] = []
        self.columns: list[str] = []
        if resume and self.path.is_file():
            with open(self.path, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                self.columns = list(reader.fieldnames or [])
                self.rows = [dict(r) for r in reader]

    def truncate_after(self, step: int) -> None:
        """Drop rows logged after `step` (a resumed run repeats the steps after its checkpoint)."""
        self.rows = [r for r in self.rows if float(r.get("step") or 0) <= step]
        self._rewrite()

    def add(self, row: Mapping[str, Any]) -> None:
        row = {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}
        new = [k for k in row if k not in self.columns]
        self.rows.append(row)
        if new or not self.path.is_file():
            self.columns += new
            self._rewrite()
        else:
            with open(self.path, "a", newline="", encoding="utf-8") as f:
                csv.DictWriter(f, self.columns).writerow(row)

    def _rewrite(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, self.columns)
            w.writeheader()
            w.writerows(self.rows)

    def series(self, key: str, kind: str) -> tuple[list[float], list[float]]:
        xs, ys = [], []
        for r in self.rows:
            if r.get("kind") != kind or r.get(key) in (None, ""):
                continue
            y = float(r[key])
            if math.isfinite(y):
                xs.append(float(r["step"]))
                ys.append(y)
        return xs, ys

    def plot(self, path: Path | None = None, title: str = "") -> Path:
        """Loss terms, validation metrics and learning rate against step, in one PNG (OUT/curves.png)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        path = Path(path or self.path.with_name("curves.png"))
        fig, axes = plt.subplots(1, 3, figsize=(15, 4))
        loss_keys = [c for c in self.columns if c == "loss" or c.startswith("loss/")]
        for k in loss_keys:
            axes[0].plot(*self.series(k, "train"), label=k, lw=1.5 if k == "loss" else 0.8)
        axes[0].set_yscale("log")
        axes[0].set_title("training loss")
        metric_keys = [c for c in self.columns if "/" in c and not c.startswith("loss/")
                       and (c.endswith("/acc_alnum") or c.endswith("/acc") or c.endswith("/hmean"))]
        for k in metric_keys:
            axes[1].plot(*self.series(k, "eval"), marker="o", ms=3, label=k)
        axes[1].set_title("validation")
        axes[1].set_ylim(0, 1)
        axes[2].plot(*self.series("lr", "train"))
        axes[2].set_title("learning rate")
        for ax in axes:
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(path, dpi=80)
        plt.close(fig)
        return path
