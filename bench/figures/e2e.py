"""End to end: the whole pipeline against fake-fal-server (a simulated latency per clip) at
concurrency 1 and 8, alternating; the output's frame count must be the plan's."""

import json
import math
import os
import shutil
import signal
import statistics
import subprocess

from lib.measure import fmt_s, frames_of, measure, run as run_cmd
from lib.paths import PORTRAIT

NAME = "e2e"
TITLE = "End to end against the fake fal server"
SUMMARY = "infinistitch AUDIO --backend fal against fake-fal-server, concurrency 8 vs 1"
ORDER = 60
VERSION = 1


def add_arguments(ap):
    ap.add_argument("--e2e-latency", type=float, default=4.0, help="simulated seconds per clip on the fake server (default 4)")
    ap.add_argument("--e2e-seconds", type=int, default=180, help="audio length of the end-to-end runs (default 180)")


def run(ctx):
    args, runs = ctx.args, ctx.runs
    tool, server_bin = ctx.tool, ctx.bin("fake-fal-server")
    audio = ctx.speech(seconds=args.e2e_seconds)
    ctx.log(f"== end to end against fake-fal-server, latency {args.e2e_latency} s per clip "
            f"(load {ctx.loadavg('end to end')})")
    # About 16 segments: the planner may use more segments than the fewest possible (k ≥ T/M)
    # to keep seams in pauses, so try request sizes upward from T/16 until a plan has ≤ 16.
    T = json.loads(run_cmd([tool, "plan", audio, "--json"]))["totalFrames"]
    tried = {}
    m = max(41, -(-T // 16))
    m += (1 - m) % 4
    while m <= 721:
        tried[m] = len(json.loads(run_cmd([tool, "plan", audio, "--json", "--max-frames", str(m)]))["segments"])
        if tried[m] <= 16:
            break
        m += 4
    best = min(tried, key=lambda k: (abs(tried[k] - 16), -k))
    plan = json.loads(run_cmd([tool, "plan", audio, "--json", "--max-frames", str(best)]))
    n = len(plan["segments"])
    work = ctx.work
    server = subprocess.Popen([server_bin, "--latency", str(args.e2e_latency), "--clip-size", "128x128",
                               "--no-clip-audio"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise SystemExit(f"bench/run: fake-fal-server did not start: {url} {server.stderr.read()}")
        env = dict(os.environ, FAL_KEY="bench-fake-key", XDG_CACHE_HOME=os.path.join(work, "cache"))
        walls = {1: [], 8: []}
        rss = {1: [], 8: []}
        for i in range(runs):
            for c in (1, 8):
                wd = os.path.join(work, f"run-c{c}")
                shutil.rmtree(wd, ignore_errors=True)
                out = os.path.join(work, f"out-c{c}.mp4")
                cmd = [tool, audio, "--image", PORTRAIT, "--backend", "fal", "--queue-url", url, "--rest-url", url,
                       "--concurrency", str(c), "--max-frames", str(best), "--no-cache", "--work-dir", wd, "-o", out,
                       "--json"]
                m = measure(cmd, env=env)
                frames = frames_of(out)
                if frames != plan["totalFrames"]:
                    raise SystemExit(f"bench/run: end-to-end output has {frames} frames, not {plan['totalFrames']}")
                walls[c].append(m["wall"])
                rss[c].append(m["rss"])
                ctx.log(f"  e2e concurrency {c} run {i + 1}/{runs}: {m['wall']:.2f} s ({frames} frames)")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    L = args.e2e_latency
    return {"seconds": args.e2e_seconds, "segments": n, "maxFrames": best, "totalFrames": plan["totalFrames"],
            "wall": {str(c): statistics.median(v) for c, v in walls.items()},
            "all": {str(c): v for c, v in walls.items()}, "rss": {str(c): max(v) for c, v in rss.items()},
            "ideal": {str(c): math.ceil(n / c) * L for c in walls}, "latency": L}


def rows(e):
    return [(f"end to end, {e['seconds']} s audio, {e['segments']} segments, {e['latency']:g} s/clip: "
             f"concurrency 8 vs 1 (naive, one at a time)",
             fmt_s(e["wall"]["8"]), fmt_s(e["wall"]["1"]), f"{e['wall']['8'] / e['wall']['1']:.2f}×",
             f"ideal ceil(n/c)·latency: {e['ideal']['8']:.0f} s vs {e['ideal']['1']:.0f} s")]


def render(e):
    out = [f"`infinistitch AUDIO --image Fixtures/portrait.png --backend fal --no-cache` against `fake-fal-server "
           f"--latency {e['latency']:g} --clip-size 128x128 --no-clip-audio` (on the same machine; it renders "
           f"each clip while the latency runs): {e['seconds']} s of speech, `--max-frames "
           f"{e['maxFrames']}`, {e['segments']} segments, T = {e['totalFrames']}. The ideal wall time is "
           f"ceil(segments ÷ concurrency) × latency; the rest is polling granularity (the client polls 0.5 s after "
           f"a submit, then every 1.5× longer), uploads, downloads, planning, image fitting and stitching.\n",
           "| concurrency | wall (median) | all runs | ideal | wall − ideal | max RSS |", "|---|---|---|---|---|---|"]
    for c in ("1", "8"):
        out.append(f"| {c} | {e['wall'][c]:.1f} s | {', '.join(f'{w:.1f}' for w in e['all'][c])} s | "
                   f"{e['ideal'][c]:.0f} s | {e['wall'][c] - e['ideal'][c]:+.1f} s | {e['rss'][c]:.0f} MiB |")
    out.append(f"\nSpeed-up from concurrency 1 to 8: {e['wall']['1'] / e['wall']['8']:.2f}× "
               f"(ideal {e['ideal']['1'] / e['ideal']['8']:.2f}×).")
    return "\n".join(out)
