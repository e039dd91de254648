"""Colour match, speed and memory: stitching with `--transition morph --color-match portrait`
against the same morph stitch without it, alternating, median wall time and max RSS, on the
long length (60 min; 10 with --quick) and once on the short length (memory flat). The clips are
the swaying portrait made to drift in colour, as the model's clips do but faster (saturation up
40 % and a warm cast by each clip's end, with ffmpeg's eq and geq filters), so that every
frame is measured and most are corrected: the colour match's worst case. On the long length the
same clips without the drift ("steady") are stitched both ways too: what the colour match costs
where it finds little or nothing to correct."""

import json
import os

from lib.measure import alternate, fmt_s, frames_of, kept, med, peak, run as run_cmd
from lib.paths import FF, ROOT

NAME = "color-match"
TITLE = "Colour match: speed and memory"
SUMMARY = "stitch 60 min (10 with --quick) of drifting clips with morph + --color-match portrait vs morph alone"
ORDER = 92
VERSION = 1
SIZE = (448, 448)
PORTRAIT = os.path.join(ROOT, "Fixtures", "portrait.png")
TARGETS = ["stitching 60 min with morph and colour match at most 1.15× the morph stitch without it, memory flat"]


def add_arguments(ap):
    ap.add_argument("--color-runs", type=int, default=1,
                    help="runs of the long colour-match stitches, each side (default 1); the short length runs once")


def drifting(ctx, clips, minutes):
    """Each clip made to drift: saturation ×(1 + 0.4 t/D) and red +18, blue −18 levels × t/D by its
    end (D its duration), re-encoded as the clips are (libx264 veryfast crf 20), audio copied."""
    directory = os.path.join(os.path.dirname(clips[0]) + "-drifting")
    os.makedirs(directory, exist_ok=True)
    out = []
    for clip in clips:
        path = os.path.join(directory, os.path.basename(clip))
        if not os.path.exists(path):
            frames = frames_of(clip)
            d = max(frames - 1, 1) / 25
            vf = (f"eq=saturation='1+0.4*t/{d:.3f}':eval=frame,format=gbrp,"
                  f"geq=r='clip(r(X\\,Y)+18*T/{d:.3f}\\,0\\,255)':g='g(X\\,Y)':b='clip(b(X\\,Y)-18*T/{d:.3f}\\,0\\,255)',"
                  "format=yuv420p")
            run_cmd(FF + ["-i", clip, "-vf", vf, "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-g", "250",
                          "-c:a", "copy", "-movflags", "+faststart", path + ".partial.mp4"])
            os.replace(path + ".partial.mp4", path)
        out.append(path)
    return out


def stitch_both(ctx, base, clips, frames, runs, name):
    """Stitches `clips` with the colour match and without it, `runs` times each, alternating;
    checks that the outputs have `frames` frames and removes them. Returns the measurements and
    the colour match's reports."""
    outs = {k: os.path.join(ctx.work, f"{name}-{k}.mp4") for k in ("matched", "morph")}
    report = os.path.join(ctx.work, f"{name}.json")
    matched = base + ["--color-match", "portrait", "--reference", PORTRAIT, "--json", "-o", outs["matched"]] + clips
    cmds = {"matched": ["sh", "-c", " ".join(f"'{a}'" for a in matched) + f" > '{report}'"],
            "morph": base + ["-o", outs["morph"]] + clips}
    r = alternate(cmds, runs, f"stitch {name}")
    for k in outs:
        made = frames_of(outs[k])
        if made != frames:
            raise SystemExit(f"bench/run: {outs[k]} has {made} frames, not {frames}")
        os.unlink(outs[k])
    with open(report) as f:
        return r, json.load(f)["colorMatch"]


def corrected(reports):
    """How many clips the colour match changed."""
    return sum(1 for c in reports if c["correctedFrames"] > 0)


def run(ctx):
    tool, runs = ctx.tool, ctx.args.color_runs
    if runs < 1:
        raise SystemExit("bench/run: --color-runs must be at least 1")
    data = {"short": ctx.short, "minutes": ctx.long, "runs": runs, "lengths": {}}
    for minutes in ctx.lengths:
        speech = ctx.speech(minutes)
        ctx.log(f"== colour match: stitch {minutes} min, morph with and without it "
                f"(load {ctx.loadavg(f'colour match {minutes} min')})")
        plan_path = os.path.join(ctx.work, f"color-plan-{minutes}m.json")
        with open(plan_path, "w") as f:
            f.write(run_cmd([tool, "plan", speech, "--json"]))
        steady, plan = ctx.clips(minutes, size=SIZE, plan_path=plan_path)
        clips = drifting(ctx, steady, minutes)
        base = [tool, "stitch", "--plan", plan_path, "--audio", speech, "--transition", "morph"]
        r, reports = stitch_both(ctx, base, clips, plan["totalFrames"], runs if minutes == ctx.long else 1,
                                 f"color-{minutes}m")
        data["lengths"][str(minutes)] = {
            "matched": kept(r["matched"]), "morph": kept(r["morph"]), "frames": plan["totalFrames"],
            "clips": len(clips), "corrected": corrected(reports),
            "correctedFrames": sum(c["correctedFrames"] for c in reports),
            "largestDrift": max((c["largestDrift"] for c in reports), default=0),
            "largestResidual": max((c["largestResidual"] for c in reports), default=0)}
        if minutes == ctx.long:
            r, reports = stitch_both(ctx, base, steady, plan["totalFrames"], runs, f"color-{minutes}m-steady")
            data["steady"] = {"matched": kept(r["matched"]), "morph": kept(r["morph"]), "clips": len(steady),
                              "corrected": corrected(reports)}
    return data


def figures(d):
    L, S = d["lengths"][str(d["minutes"])], d["lengths"][str(d["short"])]
    f = {"ratio": med(L["matched"]) / med(L["morph"]), "cpu": med(L["matched"], "cpu") / med(L["morph"], "cpu"),
         "grow_matched": peak(L["matched"]) - peak(S["matched"]), "grow_morph": peak(L["morph"]) - peak(S["morph"])}
    if "steady" in d:
        T = d["steady"]
        f["steady_ratio"] = med(T["matched"]) / med(T["morph"])
        f["steady_cpu"] = med(T["matched"], "cpu") / med(T["morph"], "cpu")
    return f


def steady_note(d, f):
    """What the steady clips gave, for a sentence; empty when they were not measured."""
    if "steady_ratio" not in f:
        return ""
    T = d["steady"]
    return (f"; on the same clips without the drift ({T['corrected']} of {T['clips']} corrected) "
            f"{f['steady_ratio']:.2f}× wall, {f['steady_cpu']:.2f}× CPU")


def rows(d):
    L = d["lengths"][str(d["minutes"])]
    f = figures(d)
    return [(f"stitch {d['minutes']} min of drifting clips, morph + `--color-match portrait` vs morph"
             + (" (1 run)" if d["runs"] == 1 else ""),
             fmt_s(med(L["matched"])), fmt_s(med(L["morph"])), f"{f['ratio']:.2f}×",
             f"CPU {f['cpu']:.2f}×; {L['corrected']} of {L['clips']} clips corrected; max RSS "
             f"{peak(L['matched']):.0f} vs {peak(L['morph']):.0f} MiB{steady_note(d, f)}")]


def targets(d):
    f = figures(d)
    flat = f["grow_matched"] <= f["grow_morph"] + 4
    detail = (f"{f['ratio']:.2f}× wall, {f['cpu']:.2f}× CPU; max RSS {f['grow_matched']:+.0f} MiB from {d['short']} to "
              f"{d['minutes']} min ({f['grow_morph']:+.0f} MiB without the colour match){steady_note(d, f)}")
    if d["minutes"] != 60:
        return [(TARGETS[0], None, f"not measured (--quick); at {d['minutes']} min: {detail}")]
    return [(TARGETS[0], f["ratio"] <= 1.15 and flat, detail)]


def render(d):
    f = figures(d)
    runs = "one run each" if d["runs"] == 1 else f"median of {d['runs']}"
    out = [f"Stitching drifting {SIZE[0]}x{SIZE[1]} clips (the swaying portrait, saturation up 40 % and a warm cast "
           f"by each clip's end; {runs}) with `--transition morph --color-match portrait --reference "
           f"Fixtures/portrait.png` vs `--transition morph` alone:\n",
           "| command | wall | CPU | max RSS | clips corrected | largest drift → left |", "|---|---|---|---|---|---|"]
    for minutes in (d["short"], d["minutes"]):
        L = d["lengths"][str(minutes)]
        for k in ("matched", "morph"):
            rs = L[k]
            colour = (f"{L['corrected']} of {L['clips']} ({L['correctedFrames']} of {L['frames']} frames) | "
                      f"ΔE {L['largestDrift']:.1f} → {L['largestResidual']:.1f}") if k == "matched" else "– | –"
            out.append(f"| {minutes} min, {k} | {fmt_s(med(rs))} | {fmt_s(med(rs, 'cpu'))} | {peak(rs):.0f} MiB | {colour} |")
    if "steady" in d:
        T = d["steady"]
        for k in ("matched", "morph"):
            rs = T[k]
            colour = f"{T['corrected']} of {T['clips']} | –" if k == "matched" else "– | –"
            out.append(f"| {d['minutes']} min, steady clips, {k} | {fmt_s(med(rs))} | {fmt_s(med(rs, 'cpu'))} | "
                       f"{peak(rs):.0f} MiB | {colour} |")
    out.append(f"\ncolour match ÷ morph at {d['minutes']} min: **{f['ratio']:.2f}×** wall, {f['cpu']:.2f}× CPU "
               f"(target ≤ 1.15×); max RSS grows by {f['grow_matched']:+.0f} MiB from {d['short']} to {d['minutes']} "
               f"min with the colour match, {f['grow_morph']:+.0f} MiB without (flat when the first is at most "
               f"4 MiB more than the second: "
               f"{'yes' if f['grow_matched'] <= f['grow_morph'] + 4 else 'no'}).")
    if "steady_ratio" in f:
        T = d["steady"]
        out.append(f"\nThe same clips without the drift ({T['corrected']} of {T['clips']} corrected; the colour "
                   f"match measures every clip and changes only those that drift): "
                   f"**{f['steady_ratio']:.2f}×** wall, {f['steady_cpu']:.2f}× CPU.")
    return "\n".join(out)
