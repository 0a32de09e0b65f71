r"""The guidance sweep in tables, from its merged results file (runs/guidance.toml, issue 12).

For every ``n_train``, weights and guidance weight w, over the disjoint pairs:

* τ_bias(w) per pair (``c``: censored, a bound) and the shift against w = 0 on the same pair,
  :math:`\Delta_w = \log_2 \tau_{\rm bias}(w) - \log_2 \tau_{\rm bias}(0)` (negative: the bias
  sets in earlier), mean ± standard error over pairs (uncensored pairs at both w only);
* the width of the biased phase :math:`\log_2(\tau_{\rm test}/\tau_{\rm bias}(w))`, mean ± SE
  over the pairs with both onsets uncensored, and the pairs ordered beyond resolution
  (``n_bias_before_test_guided`` of ``n_bias_test_measured_guided``);
* at the last checkpoint: the memorised fraction of guided samples and their distinct fraction,
  excess cross-entropy, validity and class accuracy (mean ± SE over networks), S_w (mean over
  pairs);

then the pooled shift Δ_w over every n (mean ± SE over all pairs), and the exact guided BP
reference per w.

    PYTHONPATH=. python benchmarks/guidance_table.py results/guidance/results.nc
"""

from __future__ import annotations

import argparse

import numpy as np
import xarray as xr


def _mse(x: np.ndarray) -> str:
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return "–"
    se = np.std(x, ddof=1) / np.sqrt(x.size) if x.size > 1 else np.nan
    return f"{x.mean():+.2f} ± {se:.2f} ({x.size})"


def _mean(x: np.ndarray, fmt: str = "{:.2f}") -> str:
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return "–"
    se = np.std(x, ddof=1) / np.sqrt(x.size) if x.size > 1 else 0.0
    return (fmt + " ± " + fmt).format(x.mean(), se)


def _taus(cell: xr.Dataset) -> str:
    out = []
    for tau, cen in zip(
        cell.tau_bias_guided.values, cell.tau_bias_guided_censored.values, strict=True
    ):
        out.append("nan" if np.isnan(tau) else f"{tau:.0f}{' c' if cen else ''}")
    return ", ".join(out)


def tables(ds: xr.Dataset) -> str:
    """The markdown tables of the module docstring."""
    w = ds.guidance_w.values
    lines = [
        "| n | weights | w | τ_bias per pair | Δ_w = log2 τ_bias(w)/τ_bias(0) | log2 τ_test/τ_bias | "
        "ordered | memorised | distinct | excess CE | valid | accuracy | S_w last |",
        "|---" * 13 + "|",
    ]
    pooled: dict[tuple[str, float], list[float]] = {}
    for n in ds.n_train.values:
        cell_n = ds.sel(n_train=n)
        for wt in ds.weights.values:
            cell = cell_n.sel(weights=wt)
            tau0 = cell.tau_bias_guided.sel(guidance_w=0.0)
            ok0 = ~cell.tau_bias_guided_censored.sel(guidance_w=0.0).values
            test = cell.tau_test.values
            ok_test = ~cell.tau_test_censored.values
            for g, wv in enumerate(w):
                c = cell.isel(guidance_w=g)
                tau = c.tau_bias_guided.values
                ok = ~c.tau_bias_guided_censored.values
                shift = np.where(ok & ok0, np.log2(tau / tau0.values), np.nan)
                pooled.setdefault((str(wt), float(wv)), []).extend(shift[np.isfinite(shift)])
                width = np.where(ok & ok_test, np.log2(test / tau), np.nan)
                # the cell's last checkpoint (a merged sweep NaN-pads cells with fewer)
                last = c.isel(checkpoint=int(np.flatnonzero(np.isfinite(c.step.values))[-1]))
                n_gen = float(ds.attrs.get("physgen_n_generate", np.nan))
                lines.append(
                    f"| {n} | {wt} | {wv:g} | {_taus(c)} | {_mse(shift)} | {_mse(width)} | "
                    f"{int(c.n_bias_before_test_guided)}/{int(c.n_bias_test_measured_guided)} | "
                    f"{_mean(last.guided_memorised_fraction.values)} | "
                    f"{_mean(last.guided_distinct.values / n_gen)} | "
                    f"{_mean(last.guided_ce_excess.values)} | "
                    f"{_mean(last.guided_valid_fraction.values)} | "
                    f"{_mean(last.guided_class_accuracy.values)} | "
                    f"{np.nanmean(last.guided_divergence.values):.3g} |"
                )
    lines += ["", "| weights | w | pooled Δ_w (pairs) |", "|---|---|---|"]
    for (wt, wv), shifts in pooled.items():
        lines.append(f"| {wt} | {wv:g} | {_mse(np.array(shifts))} |")
    exact = ds
    extra = [d for d in ("n_train", "p_uncond") if d in exact.exact_ce_excess.dims]
    if extra:
        exact = exact.isel({d: 0 for d in extra})
    n_gen = float(ds.attrs.get("physgen_n_generate", np.nan))
    lines += [
        "",
        "| exact BP, w | valid | accuracy | excess CE | plug-in KL (valid) | distinct | leaf entropy |",
        "|---" * 7 + "|",
    ]
    for g, wv in enumerate(w):
        e = exact.isel(guidance_w=g)
        lines.append(
            f"| {wv:g} | {float(e.exact_valid_fraction):.3f} | {float(e.exact_class_accuracy):.3f} | "
            f"{float(e.exact_ce_excess):+.3f} ± {float(e.exact_ce_excess_se):.3f} | "
            f"{float(e.exact_kl_plugin):.3f} | {float(e.exact_distinct) / n_gen:.3f} | "
            f"{float(e.exact_leaf_entropy):.4f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="merged results.nc of runs/guidance.toml")
    args = parser.parse_args()
    from physgen.io import open_results

    print(tables(open_results(args.results)))


if __name__ == "__main__":
    main()
