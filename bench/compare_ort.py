#!/usr/bin/python3
"""calibr8 vs ONNX Runtime, interleaved on the same ONNX file.

For every (model, batch, threads) it alternates `calibr8 bench --json` and
`node scripts/ort/ort_bench.js` (A B A B ...), takes the median of the
per-round medians of each, and prints a Markdown table with the ratio
calibr8/ORT, the model GFLOP (from calibr8's planned graph: 2*MACs of
Conv/Gemm/MatMul), achieved GFLOP/s and % of the FP32 FMA peak of the
cores used (peak = cores x --peak-gflops, 117 per core by default).

  /usr/bin/python3 bench/compare_ort.py [--quick] [--models a,b] [--batches 1,8]
      [--threads 1,2] [--rounds 3] [--seconds 3] [--calibr8 build/calibr8]
      [--peak-gflops 117] [--json out.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_json(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr[-2000:]}")
    # last line that parses as JSON
    for line in reversed(p.stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                pass
    return json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 round of 1 s, batch 1, threads 1")
    ap.add_argument("--models", default="resnet50,mobilenet_v2,googlenet")
    ap.add_argument("--model-dir", default=os.path.join(ROOT, "build", "models"))
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--calibr8", default=os.path.join(ROOT, "build", "calibr8"))
    ap.add_argument("--ort", default=os.path.join(ROOT, "scripts", "ort", "ort_bench.js"))
    ap.add_argument("--peak-gflops", type=float, default=117.0,
                    help="FP32 peak per core (default: the 117 GFLOP/s measured for this machine type in the brief; "
                         "/proc/cpuinfo's 2.445 GHz is the base clock, the core boosts)")
    ap.add_argument("--json", default="", help="also write all measurements here")
    ap.add_argument("--tune", default="cached", choices=["off", "cached", "full"],
                    help="calibr8's kernel choice (bench --tune); cached: timed once per CPU and node, then reused")
    a = ap.parse_args()
    if a.quick:
        a.rounds, a.seconds = 1, 1.0
        if a.batches == "1,8":
            a.batches = "1"
        if a.threads == "1,2":
            a.threads = "1"
    models = [m for m in a.models.split(",") if m]
    batches = [int(b) for b in a.batches.split(",")]
    threads = [int(t) for t in a.threads.split(",")]
    rows, raw = [], []
    for model in models:
        path = os.path.join(a.model_dir, model + ".onnx")
        if not os.path.exists(path):
            print(f"skip {model}: {path} missing", file=sys.stderr)
            continue
        for b in batches:
            for t in threads:
                c8, ort, gflop = [], [], None
                env = dict(os.environ, OMP_NUM_THREADS=str(t))
                for r in range(a.rounds):
                    # alternate who goes first so drift hits both equally
                    order = ("c8", "ort") if r % 2 == 0 else ("ort", "c8")
                    for who in order:
                        if who == "c8":
                            j = run_json([a.calibr8, "bench", path, "--batch", str(b), "--threads", str(t),
                                          "--seconds", str(a.seconds), "--tune", a.tune, "--json"], env)
                            c8.append(j["median_ms"])
                            gflop = j.get("gflop", gflop)
                        else:
                            j = run_json(["node", a.ort, "--model", path, "--batch", str(b), "--threads", str(t),
                                          "--seconds", str(a.seconds)], env)
                            ort.append(j["median_ms"])
                        raw.append({"model": model, "batch": b, "threads": t, "round": r, "who": who,
                                    "median_ms": j["median_ms"]})
                    print(f"  {model} b{b} t{t} round {r}: calibr8 {c8[-1]:.2f} ms, ORT {ort[-1]:.2f} ms",
                          file=sys.stderr, flush=True)
                mc, mo = statistics.median(c8), statistics.median(ort)
                # per-round ratios show how stable the comparison is under load
                ratios = [x / y for x, y in zip(c8, ort)]
                gfs = gflop / (mc * 1e-3) if gflop else float("nan")
                peak = t * a.peak_gflops
                rows.append((model, b, t, mc, mo, mc / mo, statistics.median(ratios), min(ratios), max(ratios),
                             gflop or float("nan"), gfs, 100.0 * gfs / peak))
    print()
    print(f"peak = threads x {a.peak_gflops:g} G(FL)OP/s per core; GFLOP = direct-convolution work (2 x MACs), so "
          "layers run by Winograd (fewer multiplies) count as 'effective' GFLOP/s; "
          f"{a.rounds} interleaved rounds x {a.seconds:g} s; calibr8/ORT = median of medians; 'paired' = median of "
          "the per-round ratios (each round runs both back to back, so it cancels slow drifts of the machine)")
    print()
    print("| model | batch | threads | calibr8 ms | ORT ms | calibr8/ORT | paired | ratio range | GFLOP | calibr8 GFLOP/s "
          "| % peak |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (m, b, t, mc, mo, r, rp, rlo, rhi, gf, gfs, pk) in rows:
        print(f"| {m} | {b} | {t} | {mc:.2f} | {mo:.2f} | **{r:.3f}** | {rp:.3f} | {rlo:.2f}-{rhi:.2f} | {gf:.2f} | "
              f"{gfs:.1f} | {pk:.0f}% |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": [dict(zip(["model", "batch", "threads", "calibr8_ms", "ort_ms", "ratio", "ratio_paired",
                                          "ratio_min",
                                          "ratio_max", "gflop", "gflops", "pct_peak"], r)) for r in rows],
                       "raw": raw, "peak_gflops_per_core": a.peak_gflops}, f, indent=1)


if __name__ == "__main__":
    main()
