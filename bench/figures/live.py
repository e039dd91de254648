"""The live stream's overhead: the same job against fake-fal-server with and without `--live DIR`,
alternating, on hard cuts (the copy path) and on morphed seams (the re-encode path). The figure
is the stitch time: from the `stage: stitching` event to the `summary` event of `--json` (what
the user waits for after the last clip arrives); the whole run's wall time is reported too."""

import json
import os
import shutil
import signal
import statistics
import subprocess
import time

from lib.measure import fmt_s, frames_of, run as run_cmd
from lib.paths import PORTRAIT

NAME = "live"
TITLE = "Watching a run live: the overhead of --live"
SUMMARY = "stitch time of a job against fake-fal-server with and without --live DIR (cut and morph)"
ORDER = 65
VERSION = 1
TARGETS = ["--live adds at most 10 % to the stitch time"]


def add_arguments(ap):
    ap.add_argument("--live-seconds", type=int, default=None,
                    help="audio length of the live runs (default 300, 90 with --quick)")
    ap.add_argument("--live-latency", type=float, default=3.0, help="simulated seconds per clip (default 3)")


def timed_run(cmd, env):
    """Runs `cmd` (with --json), noting when each event line arrives; returns (wall, stitch)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    stitching = summary = None
    try:
        for line in proc.stdout:
            now = time.monotonic()
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "stage" and event.get("message") == "stitching":
                stitching = now
            elif event.get("event") == "summary":
                summary = now
        err = proc.stderr.read()
        proc.wait()
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    if proc.returncode != 0 or stitching is None or summary is None:
        raise SystemExit(f"bench/run: live run failed ({proc.returncode}): {' '.join(cmd)}\n{err[-3000:]}")
    return time.monotonic() - start, summary - stitching


def run(ctx):
    args, runs = ctx.args, ctx.runs
    seconds = args.live_seconds or (90 if ctx.quick else 300)
    tool, server_bin = ctx.tool, ctx.bin("fake-fal-server")
    audio = ctx.speech(seconds=seconds)
    T = json.loads(run_cmd([tool, "plan", audio, "--json", "--max-frames", "161"]))["totalFrames"]
    ctx.log(f"== live overhead, {seconds} s of speech, latency {args.live_latency} s (load {ctx.loadavg('live')})")
    server = subprocess.Popen([server_bin, "--latency", str(args.live_latency), "--clip-size", "256x256",
                               "--no-clip-audio"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    work = ctx.work
    data = {"seconds": seconds, "latency": args.live_latency, "totalFrames": T, "cases": {}}
    try:
        url = server.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise SystemExit(f"bench/run: fake-fal-server did not start: {url}")
        env = dict(os.environ, FAL_KEY="bench-fake-key", XDG_CACHE_HOME=os.path.join(work, "cache"))
        for transition in ("cut", "morph"):
            case = {"plain": {"wall": [], "stitch": []}, "live": {"wall": [], "stitch": []}}
            for i in range(runs):
                for mode in ("plain", "live"):
                    wd = os.path.join(work, f"{transition}-{mode}")
                    live = os.path.join(work, f"{transition}-stream")
                    shutil.rmtree(wd, ignore_errors=True)
                    shutil.rmtree(live, ignore_errors=True)
                    out = os.path.join(work, f"{transition}-{mode}.mp4")
                    cmd = [tool, audio, "--image", PORTRAIT, "--backend", "fal", "--queue-url", url, "--rest-url", url,
                           "--concurrency", "4", "--max-frames", "161", "--no-cache", "--work-dir", wd, "-o", out,
                           "--transition", transition, "--json"]
                    if mode == "live":
                        cmd += ["--live", live]
                    wall, stitch = timed_run(cmd, env)
                    frames = frames_of(out)
                    if frames != T:
                        raise SystemExit(f"bench/run: live figure output has {frames} frames, not {T}")
                    case[mode]["wall"].append(wall)
                    case[mode]["stitch"].append(stitch)
                    ctx.log(f"  {transition} {mode} run {i + 1}/{runs}: stitch {stitch:.2f} s, wall {wall:.2f} s")
            data["cases"][transition] = case
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    return data


def medians(d, transition):
    c = d["cases"][transition]
    return ({k: statistics.median(c["plain"][k]) for k in ("wall", "stitch")},
            {k: statistics.median(c["live"][k]) for k in ("wall", "stitch")})


def rows(d):
    out = []
    for transition in d["cases"]:
        plain, live = medians(d, transition)
        out.append((f"stitch time with --live vs without, {d['seconds']} s audio, {transition}",
                    fmt_s(live["stitch"]), fmt_s(plain["stitch"]), f"{live['stitch'] / plain['stitch']:.2f}×",
                    f"whole run {live['wall']:.1f} s vs {plain['wall']:.1f} s"))
    return out


def targets(d):
    worst = max(medians(d, t)[1]["stitch"] / medians(d, t)[0]["stitch"] for t in d["cases"])
    return [(TARGETS[0], worst <= 1.10, f"worst ratio {worst:.2f}× (cut and morph)")]


def render(d):
    out = [f"`infinistitch AUDIO --backend fal --concurrency 4 --max-frames 161 --transition cut|morph --json` "
           f"with and without `--live DIR`, against `fake-fal-server --latency {d['latency']:g} --clip-size 256x256 "
           f"--no-clip-audio`: {d['seconds']} s of speech, T = {d['totalFrames']}. Stitch time: from the `stitching` "
           "stage event to the summary. With hard cuts the stream copies the clips' packets; with morphs each stretch "
           "is encoded while later clips are generated and the MP4 is remuxed from the stream.\n",
           "| seams | stitch, without | stitch, with --live | ratio | whole run, without | whole run, with |",
           "|---|---|---|---|---|---|"]
    for transition in d["cases"]:
        plain, live = medians(d, transition)
        out.append(f"| {transition} | {plain['stitch']:.2f} s | {live['stitch']:.2f} s | "
                   f"{live['stitch'] / plain['stitch']:.2f}× | {plain['wall']:.1f} s | {live['wall']:.1f} s |")
    return "\n".join(out)


METHOD = ["live: the same job with and without --live, alternating, median of --runs runs; the stitch time is "
          "measured between the `stitching` stage event and the summary event of --json."]
