#!/usr/bin/env bash
# deps.sh — install, with apt-get, only the Debian 12 packages warden needs that are missing.
# Quiet when everything is present. Needs root when something is missing.
set -euo pipefail
pkgs=(
  build-essential pkg-config meson ninja-build clang libclang-rt-14-dev
  libssl-dev libjansson-dev libyaml-dev libpcre2-dev libcmocka-dev
  libcurl4-openssl-dev libevent-dev libsqlite3-dev libpq-dev libseccomp-dev
  nodejs npm python3 ca-certificates curl openssl jq
  chromium
  postgresql
)
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    # node and npm may come from elsewhere on a developer machine: accept them when on PATH
    case "$p" in
      nodejs) command -v node >/dev/null 2>&1 && continue ;;
      npm) command -v npm >/dev/null 2>&1 && continue ;;
      python3) command -v python3 >/dev/null 2>&1 && continue ;;
    esac
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: need root to install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
