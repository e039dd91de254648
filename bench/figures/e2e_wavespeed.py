"""End to end on WaveSpeed: the whole pipeline against fake-wavespeed-server (a simulated
latency per second of video) at concurrency 2 and 4, alternating, each with its own default
plan (on WaveSpeed the default is a multiple of the concurrency, each request about as long);
the output's frame count must be the plan's, and the server must bill ceil(audio) seconds."""

import json
import math
import os
import shutil
import signal
import statistics
import subprocess

from lib.measure import frames_of, measure
from lib.paths import PORTRAIT

NAME = "e2e-wavespeed"
TITLE = "End to end against the fake WaveSpeed server"
SUMMARY = "infinistitch AUDIO --provider wavespeed against fake-wavespeed-server, concurrency 4 vs 2"
ORDER = 62
VERSION = 1
CONCURRENCIES = (2, 4)
METHOD = ["End to end on WaveSpeed: `infinistitch AUDIO --image Fixtures/portrait.png --provider wavespeed "
          "--provider-url URL --concurrency C --no-cache --json` (`WAVESPEED_API_KEY` set to anything) against "
          "`fake-wavespeed-server` on the same machine, concurrency 2 and 4 alternating; each run's plan and summary "
          "come from its `--json` events."]


def add_arguments(ap):
    ap.add_argument("--ws-rate", type=float, default=0.2,
                    help="simulated seconds of latency per second of video on fake-wavespeed-server (default 0.2; "
                         "the real service takes 10–30)")
    ap.add_argument("--ws-seconds", type=int, default=180, help="audio length of the WaveSpeed end-to-end runs (default 180)")


def events(stdout):
    out = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def run(ctx):
    args, runs = ctx.args, ctx.runs
    tool, server_bin = ctx.tool, ctx.bin("fake-wavespeed-server")
    audio = ctx.speech(seconds=args.ws_seconds)
    rate = args.ws_rate
    ctx.log(f"== end to end against fake-wavespeed-server, {rate} s per second of video "
            f"(load {ctx.loadavg('end to end wavespeed')})")
    work = ctx.work
    server = subprocess.Popen([server_bin, "--seconds-per-video-second", str(rate), "--clip-size", "128x128",
                               "--no-clip-audio"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    walls = {c: [] for c in CONCURRENCIES}
    rss = {c: [] for c in CONCURRENCIES}
    plans, summaries = {}, {}
    try:
        url = server.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise SystemExit(f"bench/run: fake-wavespeed-server did not start: {url} {server.stderr.read()}")
        env = dict(os.environ, WAVESPEED_API_KEY="bench-fake-key", XDG_CACHE_HOME=os.path.join(work, "cache"))
        env.pop("FAL_KEY", None)
        for i in range(runs):
            for c in CONCURRENCIES:
                wd = os.path.join(work, f"run-c{c}")
                shutil.rmtree(wd, ignore_errors=True)
                out = os.path.join(work, f"out-c{c}.mp4")
                cmd = [tool, audio, "--image", PORTRAIT, "--provider", "wavespeed", "--provider-url", url,
                       "--concurrency", str(c), "--no-cache", "--work-dir", wd, "-o", out, "--json"]
                m = measure(cmd, env=env)
                ev = events(m["stdout"])
                plan = next(e for e in ev if e.get("event") == "plan")
                summary = next(e for e in ev if e.get("event") == "summary")
                frames = frames_of(out)
                if frames != plan["totalFrames"]:
                    raise SystemExit(f"bench/run: WaveSpeed end-to-end output has {frames} frames, not "
                                     f"{plan['totalFrames']}")
                plans[c], summaries[c] = plan, summary
                walls[c].append(m["wall"])
                rss[c].append(m["rss"])
                ctx.log(f"  e2e wavespeed concurrency {c} run {i + 1}/{runs}: {m['wall']:.2f} s ({frames} frames, "
                        f"{len(plan['segments'])} segments, paid {summary['paidSeconds']:.0f} s)")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            _, err = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            err = ""
    ctx.log("  " + (err or "").strip().splitlines()[-1] if (err or "").strip() else "  (server said nothing)")

    def ideal(c):
        """Rounds of c requests, each lasting its longest request × the rate."""
        lengths = [s["frameCount"] / plan_fps(plans[c]) for s in plans[c]["segments"]]
        return sum(max(lengths[k:k + c]) * rate for k in range(0, len(lengths), c))

    def plan_fps(p):
        return p.get("fps", 25)

    out = {"seconds": args.ws_seconds, "rate": rate, "totalFrames": plans[CONCURRENCIES[0]]["totalFrames"],
           "audioSeconds": plans[CONCURRENCIES[0]]["audio"]["duration"], "server": (err or "").strip()[-300:]}
    for c in CONCURRENCIES:
        lengths = [s["frameCount"] / plan_fps(plans[c]) for s in plans[c]["segments"]]
        out[str(c)] = {"wall": statistics.median(walls[c]), "all": walls[c], "rss": max(rss[c]),
                       "segments": len(lengths), "longest": max(lengths), "shortest": min(lengths),
                       "ideal": ideal(c), "paidSeconds": summaries[c]["paidSeconds"], "cost": summaries[c]["cost"],
                       "ceilAudio": math.ceil(plans[c]["audio"]["duration"])}
    return out


def rows(e):
    a, b = e["4"], e["2"]
    return [(f"end to end on WaveSpeed, {e['seconds']} s audio, {e['rate']:g} s per video second: "
             f"concurrency 4 ({a['segments']} requests) vs 2 ({b['segments']})",
             f"{a['wall']:.1f} s", f"{b['wall']:.1f} s", f"{a['wall'] / b['wall']:.2f}×",
             f"ideal {a['ideal']:.0f} s vs {b['ideal']:.0f} s; paid {a['paidSeconds']:.0f} and {b['paidSeconds']:.0f} s "
             f"(ceil(audio) = {a['ceilAudio']})")]


def render(e):
    out = [f"`infinistitch AUDIO --image Fixtures/portrait.png --provider wavespeed --provider-url URL --concurrency C "
           f"--no-cache` against `fake-wavespeed-server --seconds-per-video-second {e['rate']:g} --clip-size 128x128 "
           f"--no-clip-audio` (on the same machine; a task completes {e['rate']:g} s per second of its audio after "
           f"its submit, and its clip is rendered on the poll that finds it done): {e['seconds']} s of speech "
           f"({e['audioSeconds']:.2f} s), T = {e['totalFrames']}, each concurrency with its own default plan. The "
           f"ideal wall time is the sum over rounds of C requests of the round's longest request × the rate; the rest "
           f"is uploads (the portrait once, each segment's audio), the client's polling (every 1 s at first, 1.1× "
           f"longer each time), the fake's rendering, downloads, planning, image fitting and stitching.\n",
           "| concurrency | requests | lengths | wall (median) | all runs | ideal | wall − ideal | paid | max RSS |",
           "|---|---|---|---|---|---|---|---|---|"]
    for c in ("2", "4"):
        r = e[c]
        out.append(f"| {c} | {r['segments']} | {r['shortest']:.2f}–{r['longest']:.2f} s | {r['wall']:.1f} s | "
                   f"{', '.join(f'{w:.1f}' for w in r['all'])} s | {r['ideal']:.1f} s | {r['wall'] - r['ideal']:+.1f} s | "
                   f"{r['paidSeconds']:.0f} s (${r['cost']:.2f}) | {r['rss']:.0f} MiB |")
    out.append(f"\nSpeed-up from concurrency 2 to 4: {e['2']['wall'] / e['4']['wall']:.2f}× "
               f"(ideal {e['2']['ideal'] / e['4']['ideal']:.2f}×); both pay ceil(audio) = {e['4']['ceilAudio']} s "
               + ("(as billed)." if e['2']['paidSeconds'] == e['4']['paidSeconds'] == e['4']['ceilAudio']
                  else "— **not both**."))
    return "\n".join(out)
