"""Re-encode stitch: `infinistitch stitch --reencode` against ffmpeg's concat demuxer into
libx264 at the same preset and CRF, at both lengths, alternating (the longest once if one run
takes longer than --long-reencode-limit)."""

import os

from lib import stitching
from lib.measure import alternate, cpu_note, fmt_s, kept, med, peak, walls

NAME = "stitch-reencode"
TITLE = "Stitch, re-encode path"
SUMMARY = "stitch 10 and 60 min with --reencode (3 and 10 with --quick) vs ffmpeg concat + libx264 veryfast crf 18"
ORDER = 40
VERSION = 1
TARGETS = ["re-encode stitch no slower than ffmpeg concat + libx264 (same preset/CRF)"]


def add_arguments(ap):
    ap.add_argument("--long-reencode-limit", type=float, default=600.0,
                    help="if one run of the longest re-encode stitch takes longer than this (s), run it once (default 600)")


def run(ctx):
    R = ctx.runs
    data = {"size": list(ctx.size), "quick": ctx.quick, "runs": R, "lengths": {}, "rss": {}}
    for minutes in ctx.lengths:
        plan, clips, ours, ffconcat = stitching.prepare(ctx, minutes)
        out_ours, out_ff = (os.path.join(ctx.work, f"stitch-{minutes}m-{k}.mp4") for k in ("reencode", "ffreencode"))
        ctx.log(f"== stitch re-encode path (crf 18, veryfast), {minutes} min "
                f"(load {ctx.loadavg(f're-encode {minutes} min')})")
        cmds = {"ours": ours + ["--reencode", "-o", out_ours] + clips,
                "ffmpeg": ffconcat + ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-c:a", "copy",
                                      "-movflags", "+faststart", out_ff]}
        r = alternate(cmds, 1, f"re-encode {minutes}m", total=R)
        slowest = max(r["ours"][0]["wall"], r["ffmpeg"][0]["wall"])
        once = None
        if minutes == ctx.long and R > 1 and slowest > ctx.args.long_reencode_limit:
            once = {"slowest": slowest, "limit": ctx.args.long_reencode_limit}
        elif R > 1:
            more = alternate(cmds, R - 1, f"re-encode {minutes}m", first=2, total=R)
            for k in r:
                r[k] += more[k]
        o = stitching.length_data(plan, clips)
        o.update(stitching.outputs(out_ours, out_ff))
        o.update({"ours": kept(r["ours"]), "ffmpeg": kept(r["ffmpeg"]), "once": once})
        data["lengths"][str(minutes)] = o
        data["rss"].setdefault("stitch --reencode", {})[str(minutes)] = peak(r["ours"])
        data["rss"].setdefault("ffmpeg concat + libx264", {})[str(minutes)] = peak(r["ffmpeg"])
    return data


def rows(d):
    out = []
    for minutes, o in d["lengths"].items():
        ours, base = med(o["ours"]), med(o["ffmpeg"])
        out.append((f"stitch {minutes} min, `--reencode` vs ffmpeg concat + libx264 veryfast crf 18"
                    + (" (1 run)" if o["once"] else ""),
                    fmt_s(ours), fmt_s(base), f"{ours / base:.2f}×",
                    f"{cpu_note(o['ours'], o['ffmpeg'])}; {stitching.frames_note(o)}"))
    return out


def targets(d):
    ratios = {m: med(o["ours"]) / med(o["ffmpeg"]) for m, o in d["lengths"].items()}
    return [(TARGETS[0], all(v <= 1.0 for v in ratios.values()),
             ", ".join(f"{m} min: {v:.2f}×" for m, v in ratios.items())
             + (" (60 min not measured: --quick)" if d["quick"] else ""))]


def notes(d):
    out = []
    for minutes, o in d["lengths"].items():
        T, (fo, fb), (so, sb) = o["T"], o["frames"], o["start"]
        if o["once"]:
            out.append(f"{minutes}-minute re-encode stitch: run once, not {d['runs']} times (one run took "
                       f"{o['once']['slowest']:.0f} s, over the {o['once']['limit']:.0f} s limit of --long-reencode-limit)")
        if fo != T:
            out.append(f"**{minutes} min re-encode: ours wrote {fo} frames, not T={T}**")
        if abs(so) > 0.001:
            out.append(f"**{minutes} min re-encode: our video starts {so * 1000:+.0f} ms from the audio**")
        if fb != T:
            out.append(f"{minutes} min, ffmpeg concat + libx264: {fb} frames, not T={T} ({fb - T:+d}; its "
                       "constant-frame-rate output, the MP4 default, fills the same start offset with a duplicated frame)")
    return out


def render(d):
    w, h = d["size"]
    runs = "; ".join(f"{m} min: ours {walls(o['ours'])}, ffmpeg {walls(o['ffmpeg'])}" for m, o in d["lengths"].items())
    return (f"`infinistitch stitch --reencode` against ffmpeg's concat demuxer into libx264 (`-preset veryfast -crf 18`), "
            f"on {w}x{h} clips ({stitching.clips_text(d)}). All runs, alternating: {runs}.")
