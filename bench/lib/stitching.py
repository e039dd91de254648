"""What the two stitch figures share: the inputs of one length, our command and ffmpeg's concat
baseline, and the checks of the outputs (frame counts, where the video starts)."""

import os

from .inputs import clip_stats
from .measure import frames_of, video_start
from .paths import FF


def prepare(ctx, minutes):
    """(plan, clips, our stitch command without -o, ffmpeg's concat command without codecs)."""
    plan_path = ctx.plan_file(minutes)
    clips, plan = ctx.clips(minutes)
    listing = os.path.join(ctx.work, f"concat-{minutes}m.txt")
    with open(listing, "w") as f:
        for c in clips:
            f.write(f"file '{c}'\n")
    speech = ctx.speech(minutes)
    ours = [ctx.tool, "stitch", "--plan", plan_path, "--audio", speech]
    ffconcat = FF + ["-f", "concat", "-safe", "0", "-i", listing, "-i", speech, "-map", "0:v", "-map", "1:a"]
    return plan, clips, ours, ffconcat


def outputs(ours_path, ffmpeg_path):
    """Frame counts and video start times of both outputs (then deleted)."""
    checked = {"frames": [frames_of(ours_path), frames_of(ffmpeg_path)],
               "start": [video_start(ours_path), video_start(ffmpeg_path)]}
    for p in (ours_path, ffmpeg_path):
        os.unlink(p)
    return checked


def length_data(plan, clips):
    return {"T": plan["totalFrames"], "segments": len(plan["segments"]), "clips": clip_stats(clips, plan)}


def frames_note(o):
    fo, fb = o["frames"]
    so, sb = o["start"]
    return f"frames {fo} vs {fb} (T={o['T']}); video starts at {so * 1000:+.0f} vs {sb * 1000:+.0f} ms"


def clips_text(d):
    return "; ".join(f"{m} min: {o['clips']}" for m, o in d["lengths"].items())
