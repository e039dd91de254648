"""The machine a figure ran on, stored with its result."""

import datetime
import os
import platform
import shutil

from .measure import run


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    osname = platform.platform()
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                osname = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    swift = run(["swift", "--version"]).splitlines()[0].strip() if shutil.which("swift") else "?"
    ffmpeg = run(["ffmpeg", "-version"]).splitlines()[0].split(" Copyright")[0] if shutil.which("ffmpeg") else "?"
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram": mem, "os": osname, "kernel": platform.release(),
            "swift": swift, "ffmpeg": ffmpeg, "x264": "?"}


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
