#!/usr/bin/env bash
# Installs the Debian packages the tests use as real components, where they are missing:
# espeak-ng speaks the test sentences, PostgreSQL serves the catalog and Prefect, chromium is the
# browser the UI test drives. ffmpeg is optional: without it vidp uses the static binary from the
# imageio-ffmpeg wheel. Runs apt-get as root, or through sudo.
set -euo pipefail
missing=()
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v chromium >/dev/null || missing+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
((${#missing[@]})) || exit 0
sudo=()
[[ $(id -u) == 0 ]] || sudo=(sudo)
echo "installing ${missing[*]} (apt-get)"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
