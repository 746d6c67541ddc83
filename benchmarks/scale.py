"""Millions of logged calls on one machine: import, router training, resume and tracking at scale, each measured
in a child process (wall time and peak RSS from the kernel). Printed, not asserted.

    .venv/bin/python benchmarks/scale.py import --times 100      # RouterBench x100: 3.5M rows
    .venv/bin/python benchmarks/scale.py train --prompts 20000 50000 200000
    .venv/bin/python benchmarks/scale.py resume --items 50000
    .venv/bin/python benchmarks/scale.py track --items 1000

Inputs are generated from `../shared/data/routerdc/` (RouterBench's rows repeated with distinct prompt ids and
text) or the simulator, so nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import textwrap
from pathlib import Path

import duckdb
from measure import measured

from llmbench.imports import read_routerbench
from llmbench.testing import shared_data_dir

PY = sys.executable


def routerbench_long(work: Path, times: int) -> tuple[Path, int]:
    """RouterBench's rows `times` over as one long CSV (distinct item ids and prompts); its path and row count."""
    base = read_routerbench(shared_data_dir() / "routerdc" / "datasets" / "routerbench_zs")
    base = base[["item_id", "prompt", "task", "model", "score", "cost_usd"]]
    out = work / f"routerbench_x{times}.csv"
    con = duckdb.connect()
    con.register("base", base)
    con.execute(f"""COPY (SELECT item_id || '-' || r.range AS item_id, prompt || ' #' || r.range AS prompt, task, model,
                        score, cost_usd FROM base, range({times}) r) TO '{out}' (HEADER)""")
    rows = int(con.execute(f"SELECT count(*) FROM read_csv_auto('{out}')").fetchall()[0][0])
    return out, rows


def bench_import(times: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="scale-import-"))
    path, rows = routerbench_long(work, times)
    print(f"RouterBench x{times}: {rows:,} rows, {path.stat().st_size / 2**20:.0f} MB CSV")
    wall, _, rss, _ = measured([PY, "-m", "llmbench", "import", "runs", str(path), "--name", "rb", "--store",
                             str(work / "s.duckdb")])  # fmt: skip
    print(f"  llmbench import runs: {wall:.1f} s ({rows / wall:,.0f} rows/s), peak RSS {rss:,.0f} MB")


TRAIN = textwrap.dedent(
    """
    import sys, time, json
    import numpy as np
    from llmbench.imports import read_routerbench
    from llmbench.router import RouterEstimator, RouterPolicy, routing_data
    from llmbench.router.data import RoutingData
    from llmbench.testing import shared_data_dir
    n = int(sys.argv[1])
    base = routing_data(read_routerbench(shared_data_dir() / "routerdc" / "datasets" / "routerbench_zs"))
    reps = -(-n // len(base))
    take = np.arange(reps * len(base))[:n] % len(base)  # RouterBench's prompts over and over, each one distinct
    data = RoutingData([base.prompts[i] + f" #{j}" for j, i in enumerate(take)], base.tasks[take],
                       np.array([f"p{j}" for j in range(n)], dtype=object), list(base.models), base.quality[take],
                       base.cost[take])
    t = time.perf_counter()
    router = RouterEstimator().fit(data)
    fit = time.perf_counter() - t
    prompts = data.prompts[:2000]
    policy = RouterPolicy(router.to_policy())
    t = time.perf_counter(); [policy.route(p) for p in prompts]; loop = time.perf_counter() - t
    t = time.perf_counter(); policy.route_many(prompts); many = time.perf_counter() - t
    print(json.dumps({"fit": fit, "choice": router.choice_, "loop": loop, "many": many}))
    """
)


def bench_train(sizes: list[int]) -> None:
    previous = None
    for n in sizes:
        _, _, rss, out = measured([PY, "-c", TRAIN, str(n)])
        info = json.loads(out.strip().splitlines()[-1])
        growth = (
            ""
            if previous is None
            else f"; x{n / previous[0]:.1f} prompts -> x{info['fit'] / previous[1]:.1f} time"
        )
        print(f"  router training on {n:,} prompts x 11 models: {info['fit']:.1f} s (chose {info['choice']}), "
              f"peak RSS {rss:,.0f} MB{growth}; route_many {info['loop'] / max(info['many'], 1e-9):.1f}x the loop")  # fmt: skip
        previous = (n, info["fit"])


def bench_resume(items: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="scale-resume-"))
    data = work / "items.jsonl"
    with data.open("w") as fh:
        for i in range(items):
            fh.write(json.dumps({"id": f"q{i}", "input": f"What is {i} + 1?", "reference": str(i + 1),
                                 "scorer": "numeric"}) + "\n")  # fmt: skip
    exp = work / "exp.yaml"
    exp.write_text(f"name: big\ndatasets: [{data}]\nmodels: [sim:gpt-4o-mini]\nconcurrency: 256\n")
    cmd = [
        PY,
        "-m",
        "llmbench",
        "eval",
        str(exp),
        "--store",
        str(work / "s.duckdb"),
        "--no-track",
        "--no-progress",
    ]
    wall, _, rss, _ = measured(cmd, cwd=work)
    print(
        f"  first run of {items:,} items: {wall:.1f} s, peak RSS {rss:,.0f} MB ({rss * 1024 / items:.1f} KB per call)"
    )
    wall, _, rss, _ = measured(cmd, cwd=work)
    helpw, _, _, _ = measured([PY, "-m", "llmbench", "--help"])
    print(f"  resume of the finished run: {wall:.2f} s (llmbench --help: {helpw:.2f} s; x{wall / helpw:.1f}), "
          f"peak RSS {rss:,.0f} MB")  # fmt: skip


def bench_track(items: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="scale-track-"))
    data = work / "items.jsonl"
    with data.open("w") as fh:
        for i in range(items):
            fh.write(
                json.dumps({"id": f"q{i}", "input": f"What is {i} + 1?", "reference": str(i + 1)}) + "\n"
            )
    times = {}
    for flag in ("--no-track", "--track"):
        exp = work / f"exp{flag}.yaml"
        exp.write_text(f"name: t{flag}\ndatasets: [{data}]\nmodels: [sim:gpt-4o-mini]\nconcurrency: 256\n")
        env_uri = f"sqlite:///{work / ('mlflow' + flag + '.db')}"
        cmd = ["env", f"MLFLOW_TRACKING_URI={env_uri}", PY, "-m", "llmbench", "eval", str(exp), "--store",
               str(work / f"s{flag}.duckdb"), flag, "--no-progress"]  # fmt: skip
        times[flag], _, _, _ = measured(cmd, cwd=work)
    print(f"  fresh {items:,}-item eval: --no-track {times['--no-track']:.1f} s, --track {times['--track']:.1f} s "
          f"(x{times['--track'] / times['--no-track']:.2f})")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    sub.add_parser("import").add_argument("--times", type=int, default=100)
    sub.add_parser("train").add_argument("--prompts", type=int, nargs="+", default=[20_000, 50_000, 200_000])
    sub.add_parser("resume").add_argument("--items", type=int, default=50_000)
    sub.add_parser("track").add_argument("--items", type=int, default=1000)
    args = ap.parse_args()
    if args.what == "import":
        bench_import(args.times)
    elif args.what == "train":
        bench_train(args.prompts)
    elif args.what == "resume":
        bench_resume(args.items)
    else:
        bench_track(args.items)


if __name__ == "__main__":
    main()
