"""Billed ÷ audio seconds on WaveSpeed over 200 random durations (1 s – 2 h, the same draws as
plan-efficiency), from `plan-efficiency --provider wavespeed`; the goal is billed =
ceil(audio seconds) for every single-speaker recording of 5 s or more."""

import json

from lib.measure import run as run_cmd

NAME = "billed-seconds"
TITLE = "Billed seconds on WaveSpeed"
SUMMARY = "billed − ceil(audio) and billed ÷ audio seconds over 200 random durations on WaveSpeed (plan-efficiency)"
ORDER = 74
VERSION = 1
TOOLS = ("swift",)
TARGETS = ["WaveSpeed: billed seconds = ceil(audio seconds) for every single-speaker recording of 5 s or more"]
METHOD = ["WaveSpeed billing: `plan-efficiency --provider wavespeed` plans 200 durations drawn log-uniformly "
          "from 1 s to 2 h (seed 1) on synthetic speech envelopes with WaveSpeed's rules (the audio sets each "
          "request's length, billed per started second with a 5-second minimum, default plan at concurrency 4) "
          "and compares the billed seconds with the audio's."]


def run(ctx):
    ctx.log(f"== billed / audio seconds on WaveSpeed over 200 random durations "
            f"(load {ctx.loadavg('wavespeed-billing')})")
    data = json.loads(run_cmd([ctx.bin("plan-efficiency"), "--provider", "wavespeed"]))
    data["rows"] = sorted(data["rows"], key=lambda r: r["duration"])
    return data


def rows(d):
    a, all_ = d["atLeastMinimum"], d["all"]
    return [(f"WaveSpeed billed − ceil(audio s), {a['count']} durations 5 s – 2 h (min, median, max)",
             f"{a['excessMin']}, {a['excessMedian']:g}, {a['excessMax']} s", "0 s", "—",
             f"billed ÷ audio {a['ratioMin']:.4f} / {a['ratioMedian']:.4f} / {a['ratioMax']:.4f}; "
             f"{all_['count'] - a['count']} durations under 5 s pay the 5-s minimum")]


def targets(d):
    a = d["atLeastMinimum"]
    return [(TARGETS[0], a["excessMax"] == 0 and a["excessMin"] == 0,
             f"{a['exact']} of {a['count']} durations ≥ {d['minimumBilledSeconds']} s billed exactly ceil(audio); "
             f"billed − ceil(audio) min {a['excessMin']}, max {a['excessMax']} s")]


def stats_row(label, s):
    return (f"| {label} | {s['count']} | {s['excessMin']} / {s['excessMedian']:g} / {s['excessMax']} s | "
            f"{s['ratioMin']:.4f} / {s['ratioMedian']:.4f} / {s['ratioMax']:.4f} | {s['exact']} |")


def render(d):
    out = [f"`plan-efficiency --provider wavespeed`: {d['count']} durations drawn log-uniformly from "
           f"{d['minSeconds']:g} s to {d['maxSeconds']:g} s (seed {d['seed']}, the durations of the planner's "
           f"cost-efficiency figure), each planned on a synthetic speech envelope with WaveSpeed's rules (default "
           f"plan at concurrency {d['concurrency']}; billed per started second, at least "
           f"{d['minimumBilledSeconds']} s per request). Over all durations together billed ÷ audio is "
           f"{d['ratioOverall']:.5f}.\n",
           "| durations | count | billed − ceil(audio): min / median / max | billed ÷ audio: min / median / max "
           "| billed exactly ceil(audio) |", "|---|---|---|---|---|",
           stats_row("all (1 s – 2 h)", d["all"]),
           stats_row(f"≥ {d['minimumBilledSeconds']} s (the goal)", d["atLeastMinimum"])]
    m = d["minimumBilledSeconds"]
    under = [r for r in d["rows"] if r["duration"] < m]
    if under:
        out.append(f"\nThe {len(under)} durations under {m} s ({under[0]['duration']:.2f}–{under[-1]['duration']:.2f} s) "
                   f"are one request each and pay the {m}-s minimum: billed − ceil(audio) "
                   f"{min(r['excessSeconds'] for r in under)}–{max(r['excessSeconds'] for r in under)} s, billed ÷ audio "
                   f"up to {max(r['ratio'] for r in under):.2f} (no plan can pay less).")
    over = [r for r in d["rows"] if r["duration"] >= m and r["excessSeconds"] != 0]
    if over:
        out.append(f"\nDurations of {m} s or more billed more than ceil(audio):\n")
        out.append("| audio | requests | billed | ceil(audio) | billed ÷ audio |\n|---|---|---|---|---|")
        for r in over:
            out.append(f"| {r['duration']:.2f} s | {r['segments']} | {r['billedSeconds']} s | "
                       f"{r['ceilAudioSeconds']} s | {r['ratio']:.3f} |")
    return "\n".join(out)
