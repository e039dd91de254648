"""Running and timing commands: every measurement goes through measure() (GNU time around the
command), every figure against a baseline through alternate() (ours and the baseline
interleaved), and reports the median wall and CPU time and the peak max RSS."""

import math
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time


def log(message):
    print(message, file=sys.stderr, flush=True)


def run(cmd, **kwargs):
    """Runs a command that must succeed; returns its stdout."""
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    if result.returncode != 0:
        raise SystemExit(f"bench/run: command failed ({result.returncode}): {' '.join(cmd)}\n{result.stderr[-4000:]}")
    return result.stdout


def measure(cmd, env=None, cwd=None):
    """Runs `cmd` under GNU time: returns wall seconds, CPU seconds (user + system), max RSS
    in MiB and stdout. The command runs in its own process group, killed if we are stopped."""
    with tempfile.NamedTemporaryFile("r", suffix=".time", delete=False) as t:
        tpath = t.name
    try:
        start = time.monotonic()
        proc = subprocess.Popen(["/usr/bin/time", "-v", "-o", tpath] + cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env, cwd=cwd, start_new_session=True)
        try:
            stdout, stderr = proc.communicate()
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        wall = time.monotonic() - start
        with open(tpath) as f:
            report = f.read()
    finally:
        os.unlink(tpath)
    if proc.returncode != 0:
        raise SystemExit(f"bench/run: command failed ({proc.returncode}): {' '.join(cmd)}\n{stderr[-4000:]}")

    def field(name):
        m = re.search(re.escape(name) + r": ([0-9.]+)", report)
        return float(m.group(1)) if m else float("nan")
    return {"wall": wall, "cpu": field("User time (seconds)") + field("System time (seconds)"),
            "rss": field("Maximum resident set size (kbytes)") / 1024, "stdout": stdout, "stderr": stderr}


def alternate(commands, runs, label, before=None, first=1, total=None):
    """Runs each named command `runs` times, interleaved (a1 b1 a2 b2 ...), so that a change
    in machine load hits every side alike. Returns {name: [measurement, ...]}."""
    results = {name: [] for name in commands}
    for i in range(runs):
        for name, cmd in commands.items():
            if before:
                before(name)
            m = measure(cmd)
            results[name].append(m)
            log(f"  {label} [{name}] run {first + i}/{total or runs}: {m['wall']:.2f} s, CPU {m['cpu']:.2f} s, "
                f"max RSS {m['rss']:.0f} MiB")
    return results


def kept(ms):
    """Measurements as stored in a result: wall, CPU and max RSS, without the output."""
    return [{"wall": m["wall"], "cpu": m["cpu"], "rss": m["rss"]} for m in ms]


def med(ms, key="wall"):
    return statistics.median(m[key] for m in ms)


def peak(ms):
    return max(m["rss"] for m in ms)


def cpu_note(ours, base):
    """"CPU a vs b s" for two lists of measurements (medians)."""
    a, b = med(ours, "cpu"), med(base, "cpu")
    return f"CPU {a:.2f} vs {b:.2f} s" if max(a, b) < 10 else f"CPU {a:.1f} vs {b:.1f} s"


def walls(ms):
    """All runs' wall times, for a section: "2.5, 2.6, 2.6 s"."""
    return ", ".join(f"{m['wall']:.2f}" if m["wall"] < 10 else f"{m['wall']:.1f}" for m in ms) + " s"


def frames_of(path):
    out = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
               "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", path])
    return int(out.strip().split(",")[0])


def video_start(path):
    """Seconds from the start of the audio to the first video frame (0 means in sync)."""
    out = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=start_time",
               "-of", "csv=p=0", path])
    try:
        return float(out.strip().split(",")[0])
    except ValueError:
        return float("nan")


def loadavg():
    """The 1-minute load average, as text."""
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return "?"


def fmt_s(x):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:.3f} s" if x < 10 else f"{x:.1f} s"
