"""Image fit: `infinistitch fit-image` on a 24 MP JPEG against ffmpeg scaling (lanczos) and
cropping to the same bucket, alternating."""

import os
import re

from lib.measure import alternate, cpu_note, fmt_s, kept, med, peak, run as run_cmd, walls
from lib.paths import FF

NAME = "fit"
TITLE = "Image fit"
SUMMARY = "fit-image on a 6000x4000 JPEG vs ffmpeg scale (lanczos) + crop"
ORDER = 20
VERSION = 1
TARGETS = ["fitting a 24 MP JPEG under 1 s"]


def run(ctx):
    tool, big = ctx.tool, ctx.big_jpeg()
    ctx.log(f"== fitting a 24 MP JPEG (load {ctx.loadavg('fit-image')})")
    fit_out = os.path.join(ctx.work, "fit-ours.png")
    probe = run_cmd([tool, "fit-image", big, "-o", fit_out])
    bucket = re.search(r"bucket (\d+)x(\d+)", probe)
    bw, bh = int(bucket.group(1)), int(bucket.group(2))
    r = alternate({"ours": [tool, "fit-image", big, "-o", fit_out],
                   "ffmpeg": FF + ["-i", big, "-vf", f"scale={bw}:{bh}:force_original_aspect_ratio=increase:flags=lanczos,"
                                                      f"crop={bw}:{bh}", "-frames:v", "1",
                                   os.path.join(ctx.work, "fit-ffmpeg.png")]},
                  ctx.runs, "fit")
    return {"bucket": [bw, bh], "ours": kept(r["ours"]), "ffmpeg": kept(r["ffmpeg"])}


def rows(d):
    ours, base = med(d["ours"]), med(d["ffmpeg"])
    bw, bh = d["bucket"]
    return [(f"fit 6000x4000 JPEG to {bw}x{bh} PNG (`fit-image`) vs ffmpeg `scale`(lanczos)+`crop`",
             fmt_s(ours), fmt_s(base), f"{ours / base:.2f}×",
             f"{cpu_note(d['ours'], d['ffmpeg'])}; max RSS {peak(d['ours']):.0f} vs {peak(d['ffmpeg']):.0f} MiB")]


def targets(d):
    ours = med(d["ours"])
    return [(TARGETS[0], ours < 1.0, f"{ours:.3f} s ({(1.0 - ours) * 1000:+.0f} ms of margin)"
             if ours < 1.0 else f"{ours:.3f} s ({ours - 1.0:.3f} s over)")]


def render(d):
    bw, bh = d["bucket"]
    return (f"`infinistitch fit-image photo-6000x4000.jpg -o out.png` (the defaults, face search included) against "
            f"`ffmpeg -vf scale={bw}:{bh}:force_original_aspect_ratio=increase:flags=lanczos,crop={bw}:{bh}`, "
            f"{len(d['ours'])} runs each, alternating: ours {walls(d['ours'])}, ffmpeg {walls(d['ffmpeg'])}.")
