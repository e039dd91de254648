"""Seam transitions, quality: the figures of Tests/InfiniPipelineTests/TransitionTests.swift on
synthetic seams, printed by the test run with SEAM_FIGURES=1 (`swift test` with the driver's
--scratch-path): the largest change between consecutive frames across a morph as a fraction of
the hard cut's jump, and the sharpness the in-between frames keep (variance of the Laplacian
after a σ = 1.5 px blur), against a crossfade's."""

import os
import re
import subprocess

from lib.paths import ROOT

NAME = "seam-quality"
TITLE = "Seam transitions: quality on synthetic seams"
SUMMARY = "morph vs hard cut and crossfade on synthetic seams (the transition tests, SEAM_FIGURES=1 swift test)"
ORDER = 90
VERSION = 1
TOOLS = ("swift",)
TARGETS = ["morph seams: largest step ≤ 40 % of the hard cut's jump, in-between sharpness ≥ 80 %"]
SEAM = re.compile(r"motion=([-0-9.,]+) jump=([0-9.]+) largest-step=([0-9.]+) step-ratio=([0-9.]+) "
                  r"min-sharpness=([0-9.]+)")
CROSSFADE = re.compile(r"crossfade motion=([-0-9.,]+) min-sharpness=([0-9.]+)")


def run(ctx):
    ctx.log(f"== seam quality (SEAM_FIGURES=1 swift test --filter TransitionTests, load {ctx.loadavg('seam quality')})")
    env = dict(os.environ, SEAM_FIGURES="1")
    cmd = ["swift", "test", "--scratch-path", ctx.scratch, "--filter", "TransitionTests/(morphHides|crossfadeMiddle)"]
    out = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = [l.strip() for l in out.stdout.splitlines() if l.startswith("seam-figure")]
    if out.returncode != 0 or not lines:
        raise SystemExit("bench/run: the transition tests failed:\n" + out.stdout[-4000:])
    seams, crossfade = [], None
    for line in lines:
        m = CROSSFADE.search(line)
        if m:
            crossfade = {"motion": m.group(1), "sharpness": float(m.group(2))}
            continue
        m = SEAM.search(line)
        if m:
            seams.append({"motion": m.group(1), "jump": float(m.group(2)), "step": float(m.group(3)),
                          "ratio": float(m.group(4)), "sharpness": float(m.group(5))})
    return {"seams": seams, "crossfade": crossfade}


def targets(d):
    s = d["seams"]
    if not s:
        return [(TARGETS[0], None, "the tests printed no seam figures")]
    ok = all(x["ratio"] <= 0.40 for x in s) and all(x["sharpness"] >= 0.80 for x in s)
    steps = f"steps {min(x['ratio'] for x in s) * 100:.0f}–{max(x['ratio'] for x in s) * 100:.0f} %"
    sharp = f"sharpness {min(x['sharpness'] for x in s) * 100:.0f}–{max(x['sharpness'] for x in s) * 100:.0f} %"
    fade = f" (a crossfade: {d['crossfade']['sharpness'] * 100:.0f} %)" if d["crossfade"] else ""
    return [(TARGETS[0], ok, f"{steps}, {sharp}{fade}")]


def render(d):
    out = ["Quality on synthetic seams (Tests/InfiniPipelineTests/TransitionTests.swift, 320x240 texture clips "
           "encoded with libx264; clip A drifts away from the picture, clip B starts again from it; 8-frame window):\n",
           "| seam (dx, dy px, turn °) | hard cut's jump (mean abs. change) | largest step with morph | "
           "step ÷ jump (target ≤ 0.40) | lowest in-between sharpness ÷ around (target ≥ 0.80) |",
           "|---|---|---|---|---|"]
    for x in d["seams"]:
        out.append(f"| {x['motion']} | {x['jump']:.2f} | {x['step']:.2f} | {x['ratio']:.3f} | {x['sharpness']:.3f} |")
    if d["crossfade"]:
        out.append(f"\nA crossfade over the same kind of seam ({d['crossfade']['motion']}): its middle frames keep "
                   f"{d['crossfade']['sharpness']:.2f} of the sharpness (ghosting).")
    return "\n".join(out)
