#!/usr/bin/env bash
# Installs the system packages InfiniPipeline builds and tests against (Debian 12 / Ubuntu 22.04+).
# Runs apt-get directly as root, through sudo otherwise. The Swift 6 toolchain itself is assumed.
# `install-deps.sh --list` prints the package names only (.ci/run installs them itself).
set -euo pipefail
PACKAGES=(
    pkg-config
    libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev
    libavfilter-dev libass-dev fonts-dejavu-core
    libpng-dev libjpeg-dev
    libopencv-dev opencv-data
    ffmpeg espeak-ng valgrind time
    lame opus-tools vorbis-tools flac sox
)
if [ "${1:-}" = "--list" ]; then
    echo "${PACKAGES[@]}"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
echo "install-deps: system packages are installed"
