#!/usr/bin/env bash
# install-deps.sh - installs the Debian packages fer needs to build and test,
# only those that are missing. Uses sudo when not root. Safe to run often:
# when everything is present it only checks and returns.
#
#   scripts/install-deps.sh            what building fer needs
#   scripts/install-deps.sh --test     also what the tests use (a browser, curl, openssl)
#   scripts/install-deps.sh --bench    also the peers the benchmarks compare with
#   scripts/install-deps.sh --fuzz     also clang and its fuzzing runtime
set -euo pipefail

build_pkgs=(build-essential pkg-config libopenblas-dev zlib1g-dev libjpeg62-turbo-dev libpng-dev libwebp-dev
            libexpat1-dev opencv-data libsqlite3-dev libpq-dev postgresql libcairo2-dev
            fonts-dejavu-core fonts-noto-color-emoji libmicrohttpd-dev libgnutls28-dev libjansson-dev
            libprotobuf-c-dev protobuf-c-compiler libonnx-dev
            libavformat-dev libavcodec-dev libavdevice-dev libswscale-dev libavutil-dev libsdl2-dev
            libopenmpi-dev openmpi-bin)
test_pkgs=(chromium curl openssl ca-certificates ffmpeg xvfb xauth python3-websockets python3-venv
           python3-numpy nginx-light iproute2)
bench_pkgs=(python3-torch python3-numpy python3-opencv python3-flask wrk ffmpeg xvfb chromium
            python3-websockets nginx-light curl)
fuzz_pkgs=(clang libclang-rt-14-dev)

want=("${build_pkgs[@]}")
case "${1:-}" in
--test) want+=("${test_pkgs[@]}") ;;
--bench) want+=("${bench_pkgs[@]}") ;;
--fuzz) want+=("${fuzz_pkgs[@]}") ;;
"") ;;
*) echo "install-deps: unknown option $1 (--test, --bench or --fuzz)" >&2; exit 2 ;;
esac

missing=()
# Node.js and npm (for Swagger UI and the browser tests) may come from outside Debian, where
# npm is part of the nodejs package: ask for them only when the commands are missing.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
for p in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
$sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
