"""Seam transitions, speed and memory: stitching the long length of clips with `--transition
morph` against the same re-encode without it (`--transition cut --reencode`), alternating,
median wall time and max RSS; the short length once each, to show memory stays flat. The plan
is made again here with the current planner, so that it records the pause around each seam;
the outputs stay in bench/out/work/seams/ for bench/seam-still."""

import os
import statistics

from lib.measure import alternate, fmt_s, frames_of, kept, med, peak, run as run_cmd

NAME = "seams"
TITLE = "Seam transitions: speed and memory"
SUMMARY = "stitch 60 min (10 with --quick) with --transition morph vs --transition cut --reencode"
ORDER = 91
VERSION = 1
SIZE = (448, 448)
TARGETS = ["stitching 60 min with `--transition morph` at most 1.1× the re-encode without it, memory flat"]


def add_arguments(ap):
    ap.add_argument("--seam-runs", type=int, default=1,
                    help="runs of the long seams stitches, each side (default 1: one takes minutes); the short length runs once")


def run(ctx):
    tool, runs = ctx.tool, ctx.args.seam_runs
    if runs < 1:
        raise SystemExit("bench/run: --seam-runs must be at least 1")
    data = {"short": ctx.short, "minutes": ctx.long, "runs": runs, "lengths": {}}
    for minutes in ctx.lengths:
        speech = ctx.speech(minutes)
        ctx.log(f"== seams: stitch {minutes} min, morph vs cut (load {ctx.loadavg(f'seams {minutes} min')})")
        plan_path = os.path.join(ctx.work, f"seams-plan-{minutes}m.json")
        with open(plan_path, "w") as f:
            f.write(run_cmd([tool, "plan", speech, "--json"]))
        clips, plan = ctx.clips(minutes, size=SIZE, plan_path=plan_path)
        seams = plan["segments"][1:]
        windows = [min(8, s.get("pauseFramesBefore", 8) + s.get("pauseFramesAfter", 8)) for s in seams]
        base = [tool, "stitch", "--plan", plan_path, "--audio", speech]
        outs = {k: os.path.join(ctx.work, f"seams-{minutes}m-{k}.mp4") for k in ["morph", "cut"]}
        cmds = {"morph": base + ["--transition", "morph", "-o", outs["morph"]] + clips,
                "cut": base + ["--transition", "cut", "--reencode", "-o", outs["cut"]] + clips}
        r = alternate(cmds, runs if minutes == ctx.long else 1, f"stitch {minutes} min")
        for k in outs:
            frames = frames_of(outs[k])
            if frames != plan["totalFrames"]:
                raise SystemExit(f"bench/run: {outs[k]} has {frames} frames, not {plan['totalFrames']}")
        data["lengths"][str(minutes)] = {"morph": kept(r["morph"]), "cut": kept(r["cut"]), "seams": len(seams),
                                         "frames": plan["totalFrames"], "windows": windows}
    return data


def figures(d):
    L, S = d["lengths"][str(d["minutes"])], d["lengths"][str(d["short"])]
    return {"ratio": med(L["morph"]) / med(L["cut"]), "cpu": med(L["morph"], "cpu") / med(L["cut"], "cpu"),
            "grow_morph": peak(L["morph"]) - peak(S["morph"]), "grow_cut": peak(L["cut"]) - peak(S["cut"])}


def rows(d):
    L = d["lengths"][str(d["minutes"])]
    f = figures(d)
    return [(f"stitch {d['minutes']} min, `--transition morph` vs `--transition cut --reencode`"
             + (" (1 run)" if d["runs"] == 1 else ""),
             fmt_s(med(L["morph"])), fmt_s(med(L["cut"])), f"{f['ratio']:.2f}×",
             f"CPU {f['cpu']:.2f}×; {L['seams']} seams; max RSS {peak(L['morph']):.0f} vs {peak(L['cut']):.0f} MiB")]


def targets(d):
    f = figures(d)
    flat = f["grow_morph"] <= f["grow_cut"] + 4
    detail = (f"{f['ratio']:.2f}× wall, {f['cpu']:.2f}× CPU; max RSS {f['grow_morph']:+.0f} MiB from {d['short']} to "
              f"{d['minutes']} min ({f['grow_cut']:+.0f} MiB without the morph)")
    if d["minutes"] != 60:
        return [(TARGETS[0], None, f"not measured (--quick); at {d['minutes']} min: {detail}")]
    return [(TARGETS[0], f["ratio"] <= 1.10 and flat, detail)]


def render(d):
    L = d["lengths"][str(d["minutes"])]
    f = figures(d)
    runs = "one run each" if d["runs"] == 1 else f"median of {d['runs']}"
    out = [f"Stitching {d['minutes']} min ({L['frames']} frames, {L['seams']} seams, {SIZE[0]}x{SIZE[1]} clips; "
           f"{runs}) with `--transition morph` vs the same re-encode without it (`--transition cut --reencode`):\n",
           "| command | wall | CPU | max RSS |", "|---|---|---|---|"]
    for minutes in (d["short"], d["minutes"]):
        for k in ("morph", "cut"):
            rs = d["lengths"][str(minutes)][k]
            out.append(f"| {minutes} min, {k} | {fmt_s(med(rs))} | {fmt_s(med(rs, 'cpu'))} | {peak(rs):.0f} MiB |")
    out.append(f"\nmorph ÷ re-encode at {d['minutes']} min: **{f['ratio']:.2f}×** wall, {f['cpu']:.2f}× CPU "
               f"(target ≤ 1.10×); max RSS grows by {f['grow_morph']:+.0f} MiB from {d['short']} to {d['minutes']} min "
               f"with morph, {f['grow_cut']:+.0f} MiB without (flat: the morph holds two frames and one flow field per "
               f"seam). Windows: {statistics.mean(L['windows']) if L['windows'] else 0:.1f} frames on average at the "
               f"{L['seams']} seams (kept inside each pause).")
    return "\n".join(out)
