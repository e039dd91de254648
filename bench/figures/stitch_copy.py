"""Copy-path stitch: `infinistitch stitch` (clips joined without re-encoding) against ffmpeg's
concat demuxer with -c copy, at both lengths, alternating."""

import os

from lib import stitching
from lib.measure import alternate, cpu_note, fmt_s, kept, med, peak, walls

NAME = "stitch-copy"
TITLE = "Stitch, copy path"
SUMMARY = "stitch 10 and 60 min of clips without re-encoding (3 and 10 with --quick) vs ffmpeg concat -c copy"
ORDER = 30
VERSION = 1
TARGETS = ["copy-path stitch ≤ 1.5× ffmpeg concat copy"]
METHOD = ["Copy stitch baseline: `ffmpeg -f concat -safe 0 -i list -i AUDIO -map 0:v -map 1:a -c copy -movflags "
          "+faststart`; re-encode baseline: the same with `-c:v libx264 -preset veryfast -crf 18 -c:a copy`. "
          "Our stitch also checks every clip, writes the moov in front, and verifies the frame count of "
          "what it wrote.",
          "Frame counts are counted by `ffprobe -count_packets`; \"video starts at\" is the video stream's "
          "start time in the MP4, the audio starting at 0."]


def run(ctx):
    data = {"size": list(ctx.size), "quick": ctx.quick, "lengths": {}, "rss": {}}
    for minutes in ctx.lengths:
        plan, clips, ours, ffconcat = stitching.prepare(ctx, minutes)
        out_ours, out_ff = (os.path.join(ctx.work, f"stitch-{minutes}m-{k}.mp4") for k in ("copy", "ffcopy"))
        ctx.log(f"== stitch copy path, {minutes} min: {len(plan['segments'])} clips, T={plan['totalFrames']} "
                f"(load {ctx.loadavg(f'copy {minutes} min')})")
        r = alternate({"ours": ours + ["-o", out_ours] + clips,
                       "ffmpeg": ffconcat + ["-c", "copy", "-movflags", "+faststart", out_ff]}, ctx.runs,
                      f"copy {minutes}m")
        o = stitching.length_data(plan, clips)
        o.update(stitching.outputs(out_ours, out_ff))
        o.update({"ours": kept(r["ours"]), "ffmpeg": kept(r["ffmpeg"]),
                  "copied": "video copy" in r["ours"][0]["stdout"], "stdout": r["ours"][0]["stdout"].strip()})
        data["lengths"][str(minutes)] = o
        data["rss"].setdefault("stitch copy", {})[str(minutes)] = peak(r["ours"])
        data["rss"].setdefault("ffmpeg concat copy", {})[str(minutes)] = peak(r["ffmpeg"])
    return data


def rows(d):
    out = []
    for minutes, o in d["lengths"].items():
        ours, base = med(o["ours"]), med(o["ffmpeg"])
        out.append((f"stitch {minutes} min, copy path vs `ffmpeg -f concat -c copy` (+audio, +faststart)",
                    fmt_s(ours), fmt_s(base), f"{ours / base:.2f}×",
                    f"{cpu_note(o['ours'], o['ffmpeg'])}; {stitching.frames_note(o)}"))
    return out


def targets(d):
    ratios = {m: med(o["ours"]) / med(o["ffmpeg"]) for m, o in d["lengths"].items()}
    return [(TARGETS[0], all(v <= 1.5 for v in ratios.values()),
             ", ".join(f"{m} min: {v:.2f}×" for m, v in ratios.items())
             + (" (60 min not measured: --quick)" if d["quick"] else ""))]


def notes(d):
    out = []
    for minutes, o in d["lengths"].items():
        T, (fo, fb), (so, sb) = o["T"], o["frames"], o["start"]
        if not o["copied"]:
            out.append(f"{minutes} min: our stitch did not take the copy path: {o['stdout']}")
        if fo != T:
            out.append(f"**{minutes} min copy path: ours wrote {fo} frames, not T={T}**")
        if abs(so) > 0.001:
            out.append(f"**{minutes} min copy path: our video starts {so * 1000:+.0f} ms from the audio**")
        if fb != T:
            out.append(f"{minutes} min, ffmpeg concat copy: {fb} frames, not T={T} ({fb - T:+d})")
        if abs(sb) > 0.001:
            out.append(f"{minutes} min, ffmpeg concat copy: the video starts {sb * 1000:+.0f} ms after the audio "
                       "(ffmpeg shifts the concat input by its start time, which comes from the clips' own AAC and its "
                       "priming delay although that audio is not mapped): a constant lip-sync offset")
    return out


def render(d):
    w, h = d["size"]
    runs = "; ".join(f"{m} min: ours {walls(o['ours'])}, ffmpeg {walls(o['ffmpeg'])}" for m, o in d["lengths"].items())
    return (f"`infinistitch stitch --plan PLAN --audio AUDIO -o OUT CLIPS…` (the copy path) against ffmpeg's concat "
            f"demuxer with `-c copy`, on {w}x{h} clips ({stitching.clips_text(d)}). All runs, alternating: {runs}.")
