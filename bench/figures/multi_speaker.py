"""Cost of multi-speaker plans (issue 14's money goal): synthetic two- and three-person
conversations of 10 and 60 minutes planned shot by shot by the plan-efficiency helper, paid ÷
needed frames beside the single-speaker plan of the same audio."""

from figures.plan_efficiency import efficiency

NAME = "multi-speaker"
TITLE = "Cost of multi-speaker plans"
SUMMARY = "paid ÷ needed frames of 10- and 60-min conversations planned shot by shot (plan-efficiency helper)"
ORDER = 80
VERSION = 1
TOOLS = ("swift",)
TARGETS = ["multi-speaker plans: paid ÷ needed ≤ 1.02, and never above the single-speaker plan + 41 frames per shot"]


def run(ctx):
    ctx.log(f"== multi-speaker plans (load {ctx.loadavg('multi-speaker')})")
    return {"plans": efficiency(ctx).get("multiSpeaker") or []}


def rows(d):
    multi = d["plans"]
    if not multi:
        return []
    return [("paid ÷ needed frames, multi-speaker plans of 10 and 60 min (max)",
             f"{max(r['ratio'] for r in multi):.3f}", "≤ 1.02", "—",
             f"{len(multi)} synthetic conversations, {sum(r['shots'] for r in multi)} shots")]


def targets(d):
    multi = d["plans"]
    if not multi:
        return [(TARGETS[0], None, "plan-efficiency reported no multi-speaker plans")]
    worst = max(r["ratio"] for r in multi)
    bound = all(r["paidFrames"] <= r["singleSpeakerPaidFrames"] + 41 * r["shots"] for r in multi)
    return [(TARGETS[0], worst <= 1.02 and bound,
             f"worst {worst:.4f} over {len(multi)} conversations of 10 and 60 min; bound "
             + ("held in every one" if bound else "BROKEN"))]


def render(d):
    rows = d["plans"]
    if not rows:
        return "plan-efficiency reported no multi-speaker plans."
    out = ["`plan-efficiency` also plans synthetic conversations shot by shot: random turns of 1–40 s (a fifth of "
           "them interjections of 0.3–1.5 s, which stay in the current shot), gaps of 0.1–0.8 s between turns (a tenth "
           "under 0.1 s, a quarter overlapping by 0.1–0.8 s), speech bursts of 1.5–8 s inside a turn; the default "
           "minimum shot (2 s) and `--max-frames 721`. Goal: paid ÷ needed ≤ 1.02, and never more than the "
           "single-speaker plan of the same audio plus one minimum request (41 frames) per shot.\n",
           "| minutes | speakers | seed | shots | segments | needed frames | paid frames | paid ÷ needed | "
           "single-speaker paid | changes inside their gap | planning time |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['minutes']} | {r['speakers']} | {r['seed']} | {r['shots']} | {r['segments']} | "
                   f"{r['totalFrames']} | {r['paidFrames']} | {r['ratio']:.4f} | {r['singleSpeakerPaidFrames']} | "
                   f"{r['changesInGap']} of {r['shots'] - 1} | {r['seconds'] * 1000:.0f} ms |")
    out.append("\nA change outside its gap was moved at most 25 frames (1 s) into the voices, because no placement "
               "inside the gaps makes every shot a whole number of valid requests (a gap narrower than 4 frames, or "
               "an overlap, fixes the change to one frame).")
    return "\n".join(out)
