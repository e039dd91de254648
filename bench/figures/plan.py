"""Planning speed: `infinistitch plan` on the long MP3 against ffmpeg's silencedetect (decode and
a silence scan), alternating; both also once on the short MP3, for the memory figure."""

from lib.measure import alternate, cpu_note, fmt_s, kept, measure, med, peak, walls

NAME = "plan"
TITLE = "Planning speed"
SUMMARY = "infinistitch plan on a 60-min MP3 (10 with --quick) vs ffmpeg -af silencedetect"
ORDER = 10
VERSION = 1
TARGETS = ["planning a 1-hour MP3 no slower than ffmpeg silencedetect"]
METHOD = ["Planning: `infinistitch plan X` (decode, loudness envelope, pause detection, seam search) against "
          "`ffmpeg -i X -af silencedetect -f null -` (decode and a silence scan)."]


def silencedetect(audio):
    return ["ffmpeg", "-nostdin", "-hide_banner", "-i", audio, "-af", "silencedetect", "-f", "null", "-"]


def run(ctx):
    tool, short, minutes = ctx.tool, ctx.short, ctx.long
    speech = {m: ctx.speech(m) for m in ctx.lengths}
    ctx.log(f"== planning a {minutes}-minute MP3 (load {ctx.loadavg(f'plan {minutes} min')})")
    r = alternate({"ours": [tool, "plan", speech[minutes]], "ffmpeg": silencedetect(speech[minutes])},
                  ctx.runs, "plan")
    # the short length's planning memory (one run is enough for a peak)
    ours_short = measure([tool, "plan", speech[short]])
    ffmpeg_short = measure(silencedetect(speech[short]))
    return {"minutes": minutes, "short": short, "ours": kept(r["ours"]), "ffmpeg": kept(r["ffmpeg"]),
            "rss": {"plan": {str(short): ours_short["rss"], str(minutes): peak(r["ours"])},
                    "ffmpeg silencedetect": {str(short): ffmpeg_short["rss"], str(minutes): peak(r["ffmpeg"])}}}


def rows(d):
    ours, base = med(d["ours"]), med(d["ffmpeg"])
    return [(f"plan {d['minutes']}-min MP3 (`infinistitch plan`) vs `ffmpeg -af silencedetect -f null`",
             fmt_s(ours), fmt_s(base), f"{ours / base:.2f}×", cpu_note(d["ours"], d["ffmpeg"]))]


def targets(d):
    ours, base = med(d["ours"]), med(d["ffmpeg"])
    if d["minutes"] == 60:
        return [(TARGETS[0], ours <= base, f"{ours:.2f} s vs {base:.2f} s ({ours / base:.2f}×)")]
    return [(TARGETS[0], None,
             f"not measured (--quick); at {d['minutes']} min: {ours:.2f} s vs {base:.2f} s ({ours / base:.2f}×)")]


def render(d):
    return (f"`infinistitch plan` on the {d['minutes']}-minute MP3 against `ffmpeg -af silencedetect`, "
            f"{len(d['ours'])} runs each, alternating: ours {walls(d['ours'])}, ffmpeg {walls(d['ffmpeg'])}; "
            f"max RSS {peak(d['ours']):.0f} vs {peak(d['ffmpeg']):.0f} MiB.")
