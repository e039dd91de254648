"""The generated inputs, under bench/out/inputs/ and reused when present: speech of any length
(espeak-ng sentences with pauses and faint room noise, MP3), clips of exactly a plan's frame
counts (the portrait swaying, H.264 with the segment's audio as AAC), and a 24 MP JPEG."""

import concurrent.futures
import json
import os
import random
import re
import wave

from .measure import log, run
from .paths import FF, INPUTS, PORTRAIT

SENTENCES = [
    "Welcome back to the show, where we talk about the tools we build and the mistakes we make along the way.",
    "Today I want to walk through a problem that looked simple on the whiteboard and turned out to be anything but.",
    "The first version read the whole file into memory, which worked fine until somebody uploaded a three hour lecture.",
    "So we rewrote it to stream, one chunk at a time, and suddenly the memory graph was flat.",
    "Of course, that raised a new question.",
    "How do you know where to cut, if you never see the whole recording at once?",
    "The answer is that you keep a tiny summary of the loudness, ten milliseconds at a time.",
    "An hour of audio becomes a few megabytes of numbers, and that is easy to search.",
    "Pauses are where the speaker breathes, and that is where a cut is hardest to notice.",
    "Let me give you an example from last week.",
    "We had a recording of a panel discussion with four people and a lot of laughter.",
    "The laughter was loud, but it was not speech, and the detector had to learn the difference.",
    "Honestly, it took three attempts to get the thresholds right.",
    "Another thing people ask about is cost, because every second of video is billed.",
    "If you request more frames than you keep, you are paying for frames that nobody will ever see.",
    "So the planner tries hard to make every request exactly the size it needs.",
    "There is a neat bit of arithmetic behind that, which I will not bore you with today.",
    "Instead, let us talk about what happens when a request fails halfway through.",
    "The worst outcome is paying twice for the same clip, so we record every request before we wait on it.",
    "If the machine crashes, the next run picks up the request by its id and simply asks for the result.",
    "That sounds obvious, but it is surprisingly easy to get wrong.",
    "Right, I see we have a question from the audience.",
    "Yes, the stitching is done without re-encoding whenever the clips allow it.",
    "That keeps the quality exactly as the model produced it, and it is fast.",
    "When the clips differ, we fall back to encoding the video once, at a high quality setting.",
    "Either way, the number of frames in the output is fixed before we start.",
    "It is the length of the audio, rounded up to the next frame, and nothing else.",
    "That is the whole trick, really: decide the numbers first, then make the pieces fit.",
    "Thanks for listening, and see you next week.",
    "Before we go, a quick reminder that the slides are on the website.",
]
PAUSES = [0.25, 0.35, 0.5, 0.7, 0.9, 1.3]


def wav_seconds(path):
    with wave.open(path) as w:
        return w.getnframes() / w.getframerate()


def make_speech(seconds, path):
    """Speech of exactly `seconds`: espeak-ng sentences with short pauses, faint room noise,
    44.1 kHz stereo MP3 at 128 kb/s (a typical podcast encoding)."""
    if os.path.exists(path):
        return
    pool = os.path.join(INPUTS, "speech-pool")
    os.makedirs(pool, exist_ok=True)
    sentences = []
    for i, text in enumerate(SENTENCES):
        wav = os.path.join(pool, f"s{i:02d}.wav")
        if not os.path.exists(wav):
            run(["espeak-ng", "-v", "en-us", "-s", str(150 + (i % 4) * 10), "-w", wav, text])
        sentences.append(wav)
    with wave.open(sentences[0]) as w:
        rate = w.getframerate()
    silences = {}
    for p in PAUSES:
        wav = os.path.join(pool, f"pause-{p}.wav")
        if not os.path.exists(wav):
            run(FF + ["-f", "lavfi", "-i", f"anullsrc=r={rate}:cl=mono", "-t", str(p), "-c:a", "pcm_s16le", wav])
        silences[p] = wav
    rng = random.Random(int(seconds))
    order, total = [], 0.0
    while total < seconds + 1:
        s = rng.choice(sentences)
        p = rng.choice(PAUSES)
        order += [s, silences[p]]
        total += wav_seconds(s) + p
    listing = path + ".list"
    with open(listing, "w") as f:
        for item in order:
            f.write(f"file '{item}'\n")
    tmp = path + ".partial.mp3"
    run(FF + ["-f", "concat", "-safe", "0", "-i", listing,
              "-f", "lavfi", "-i", "anoisesrc=a=0.003:c=pink:r=44100:s=7",
              "-filter_complex", "[0:a]aresample=44100[s];[s][1:a]amix=inputs=2:duration=first:normalize=0[m]",
              "-map", "[m]", "-t", str(seconds), "-ar", "44100", "-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k",
              tmp])
    os.replace(tmp, path)
    os.unlink(listing)


def make_big_jpeg(path):
    """A 6000x4000 (24 MP) JPEG: the portrait upscaled, cropped to 3:2, with grain."""
    if os.path.exists(path):
        return
    run(FF + ["-i", PORTRAIT, "-vf", "scale=6000:6000:flags=bicubic,crop=6000:4000,noise=alls=12:allf=u,format=yuvj420p",
              "-q:v", "2", "-frames:v", "1", path + ".partial.jpg"])
    os.replace(path + ".partial.jpg", path)


def make_source(width, height):
    """721 frames (the longest clip) of the portrait swaying gently, raw yuv420p: every clip
    is encoded from the start of this, so the filters run once, not once per clip."""
    path = os.path.join(INPUTS, f"sway-{width}x{height}.yuv")
    if not os.path.exists(path):
        run(FF + ["-loop", "1", "-framerate", "25", "-i", PORTRAIT, "-vf",
                  f"scale={width + 32}:{height + 32},"
                  f"crop={width}:{height}:x='16+15*sin(2*PI*t/3.1)':y='16+15*sin(2*PI*t/2.3)',format=yuv420p",
                  "-frames:v", "721", "-f", "rawvideo", path + ".partial"])
        os.replace(path + ".partial", path)
    return path


def make_clip(args):
    """One clip of exactly `frames` frames, H.264 25 fps, with the segment's audio as AAC cut
    to the video's length (as the model's clips have); the same encoder settings for all."""
    path, audio, start, frames, width, height = args
    if os.path.exists(path):
        return path
    tmp = path + ".partial.mp4"
    run(FF + ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-video_size", f"{width}x{height}", "-framerate", "25",
              "-i", make_source(width, height), "-ss", f"{start:.3f}", "-i", audio,
              "-filter_complex", "[1:a]apad[a]", "-map", "0:v", "-map", "[a]", "-t", f"{frames / 25:.2f}",
              "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-g", "250",
              "-c:a", "aac", "-b:a", "96k", "-ac", "1", "-movflags", "+faststart", tmp])
    os.replace(tmp, path)
    return path


def make_clips(plan_path, audio, directory, size):
    """One clip per segment of the plan at `plan_path` (made in parallel where missing);
    returns (paths in segment order, the plan)."""
    with open(plan_path) as f:
        plan = json.load(f)
    os.makedirs(directory, exist_ok=True)
    w, h = size
    jobs = [(os.path.join(directory, f"seg-{s['index']:04d}.mp4"), audio, s["startTime"], s["numFrames"], w, h)
            for s in plan["segments"]]
    missing = [j for j in jobs if not os.path.exists(j[0])]
    if missing:
        make_source(w, h)
        log(f"  making {len(missing)} clips ({sum(j[3] for j in missing)} frames, {w}x{h}) in {directory}")
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
            list(pool.map(make_clip, missing))
    return [j[0] for j in jobs], plan


def clip_stats(clips, plan):
    """"24 clips, 13 MiB, 188 kb/s (video and AAC)"."""
    size = sum(os.path.getsize(c) for c in clips)
    return (f"{len(clips)} clips, {size / 2**20:.0f} MiB, {size * 8 / (plan['totalFrames'] / 25) / 1000:.0f} kb/s "
            "(video and AAC)")


def x264_version(clip):
    """libx264's version, from the SEI it writes into every stream it encodes."""
    with open(clip, "rb") as f:
        m = re.search(rb"x264 - core \d+ r\d+ [0-9a-f]+", f.read(1 << 16))
    return m.group(0).decode() if m else None
