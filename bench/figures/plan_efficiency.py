"""Cost efficiency of the planner: paid ÷ needed frames over 200 random durations from 1 s to
2 h, from the plan-efficiency helper (bench/Sources/plan-efficiency); nothing to compare
against but 1.000."""

import json

from lib.measure import run as run_cmd

NAME = "plan-efficiency"
TITLE = "Cost efficiency of the planner"
SUMMARY = "paid ÷ needed frames over 200 random durations, 1 s – 2 h (plan-efficiency helper; about a minute)"
ORDER = 70
VERSION = 1
TOOLS = ("swift",)


def efficiency(ctx):
    """plan-efficiency's JSON, once per invocation (multi-speaker reads the same output)."""
    return ctx.memo("plan-efficiency", lambda: json.loads(run_cmd([ctx.bin("plan-efficiency")])))


def run(ctx):
    ctx.log(f"== paid frames / needed frames over 200 random durations (load {ctx.loadavg('plan-efficiency')})")
    eff = dict(efficiency(ctx))
    eff.pop("multiSpeaker", None)
    return eff


def rows(eff):
    return [("paid frames ÷ needed frames, 200 durations 1 s – 2 h (median, max)",
             f"{eff['ratioMedian']:.3f}, {eff['ratioMax']:.3f}", "1.000", "—",
             f"{eff['wholeClipPlans']}/{eff['count']} whole-clip plans, "
             + ("all exactly 1.000" if eff["wholeClipPlansExact"] else "NOT all 1.000"))]


def render(eff):
    out = [f"`plan-efficiency`: {eff['count']} durations drawn log-uniformly from {eff['minSeconds']:g} s to "
           f"{eff['maxSeconds']:g} s (seed {eff['seed']}; shortest {eff['shortestDuration']:.2f} s, longest "
           f"{eff['longestDuration']:.0f} s), each planned at the defaults (`--max-frames 721`) on a synthetic speech "
           f"envelope. Paid ÷ needed frames: min {eff['ratioMin']:.3f}, median {eff['ratioMedian']:.3f}, mean "
           f"{eff['ratioMean']:.4f}, max {eff['ratioMax']:.3f}; over all durations together "
           f"{eff['ratioOverall']:.5f}. {eff['wholeClipPlans']} of {eff['count']} plans are whole-clip plans, "
           + ("every one paying exactly the frames it needs (1.000)." if eff["wholeClipPlansExact"]
              else "**not all paying exactly what they need**.")
           + " The others are audio too short for whole clips (T < 164 frames, 6.56 s):\n"]
    if eff["otherPlans"]:
        out.append("| duration | needed frames | paid frames | layout | ratio |\n|---|---|---|---|---|")
        for p in eff["otherPlans"]:
            out.append(f"| {p['duration']:.2f} s | {p['totalFrames']} | {p['paidFrames']} | {p['layout']} | {p['ratio']:.3f} |")
    return "\n".join(out)
