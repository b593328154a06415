#!/usr/bin/env python3
"""Our job-shop solver beside OR-Tools CP-SAT on the benchmark instances.

Both get the same time limit and threads, one instance after the other.
Prints makespan, gap to the best-known upper bound from bounds.csv and the
ratio to CP-SAT per instance, then the means. CP-SAT is a benchmark peer
only: it is installed into a local virtual environment by
scripts/bench-schedule.sh and never used by the platform.

  python3 scripts/bench_schedule.py --bench DIR --zhizao BIN \
      [--time-limit 10] [--threads 2] [--only ta01,ta02] [--family jssp|fjsp]
"""

import argparse
import csv
import json
import os
import subprocess
import sys


def read_jssp(path):
    with open(path) as f:
        rows = [list(map(int, l.split())) for l in f if l.strip()]
    n, m = rows[0][:2]
    jobs = []
    for r in rows[1 : n + 1]:
        jobs.append([[(r[i], r[i + 1])] for i in range(0, len(r), 2)])
    return m, jobs


def read_fjsp(path):
    with open(path) as f:
        rows = [l.split() for l in f if l.strip()]
    n, m = int(rows[0][0]), int(rows[0][1])
    jobs = []
    for r in rows[1 : n + 1]:
        v = list(map(int, r))
        k, i, ops = v[0], 1, []
        for _ in range(k):
            c = v[i]
            i += 1
            modes = []
            for _ in range(c):
                modes.append((v[i] - 1, v[i + 1]))
                i += 2
            ops.append(modes)
        jobs.append(ops)
    return m, jobs


def cpsat(machines, jobs, seconds, threads):
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    horizon = sum(max(d for _, d in op) for job in jobs for op in job)
    on_machine = [[] for _ in range(machines)]
    ends = []
    for job in jobs:
        prev_end = None
        for op in job:
            start = model.NewIntVar(0, horizon, "")
            end = model.NewIntVar(0, horizon, "")
            if len(op) == 1:
                m, d = op[0]
                on_machine[m].append(model.NewIntervalVar(start, d, end, ""))
            else:
                chosen = []
                for m, d in op:
                    lit = model.NewBoolVar("")
                    on_machine[m].append(model.NewOptionalIntervalVar(start, d, end, lit, ""))
                    chosen.append(lit)
                model.AddExactlyOne(chosen)
            if prev_end is not None:
                model.Add(start >= prev_end)
            prev_end = end
        ends.append(prev_end)
    for ivs in on_machine:
        model.AddNoOverlap(ivs)
    makespan = model.NewIntVar(0, horizon, "")
    model.AddMaxEquality(makespan, ends)
    model.Minimize(makespan)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = threads
    status = solver.Solve(model)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return int(solver.Value(makespan))
    return None


def ours(binary, path, fmt, seconds, threads):
    out = subprocess.run(
        [binary, "schedule", "solve", path, "--format", fmt, "--time-limit", str(seconds),
         "--threads", str(threads), "--json"],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)["makespan"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--zhizao", required=True)
    ap.add_argument("--time-limit", type=float, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default="")
    ap.add_argument("--family", default="")
    a = ap.parse_args()
    only = set(filter(None, a.only.split(",")))
    with open(os.path.join(a.bench, "bounds.csv")) as f:
        bounds = list(csv.DictReader(f))
    print(f"{'instance':<8} {'jobs':>4} {'mach':>4} {'best':>6} {'zhizao':>7} {'gap%':>6} {'cp-sat':>7} {'gap%':>6} {'ratio':>6}")
    gaps, cp_gaps, wins, big = [], [], 0, 0
    for b in bounds:
        name = b["instance"]
        # bounds.csv says `jssp` or `fjsp_brandimarte`; the folders are jssp and fjsp.
        fam = "fjsp" if b["family"].startswith("fjsp") else "jssp"
        if (only and name not in only) or (a.family and fam != a.family):
            continue
        path = os.path.join(a.bench, fam, name + (".txt" if fam == "jssp" else ".fjs"))
        machines, jobs = (read_jssp if fam == "jssp" else read_fjsp)(path)
        best = int(b["best_known_upper"])
        z = ours(a.zhizao, path, fam, a.time_limit, a.threads)
        c = cpsat(machines, jobs, a.time_limit, a.threads)
        gap = 100 * (z - best) / best
        gaps.append(gap)
        cp_gap = None if c is None else 100 * (c - best) / best
        if cp_gap is not None:
            cp_gaps.append(cp_gap)
        if len(jobs) >= 20:
            big += 1
            wins += int(c is None or z <= c)
        ratio = "" if c is None else f"{z / c:.3f}"
        print(f"{name:<8} {len(jobs):>4} {machines:>4} {best:>6} {z:>7} {gap:>6.2f} {c if c is not None else '-':>7} "
              f"{'' if cp_gap is None else f'{cp_gap:.2f}':>6} {ratio:>6}", flush=True)
    if gaps:
        print(f"mean gap: zhizao {sum(gaps) / len(gaps):.2f}%"
              + (f", cp-sat {sum(cp_gaps) / len(cp_gaps):.2f}%" if cp_gaps else ""))
    if big:
        print(f"instances with 20 jobs or more where zhizao <= cp-sat: {wins} of {big}")


if __name__ == "__main__":
    sys.exit(main())
