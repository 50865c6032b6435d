#!/usr/bin/env bash
# Installs what the browser tests drive: Debian's Chromium and ChromeDriver, and CJK fonts so that
# the screenshots under target/screenshots show the Chinese interface. Needs root (or sudo).
set -euo pipefail
packages=()
command -v chromium >/dev/null || packages+=(chromium)
command -v chromedriver >/dev/null || packages+=(chromium-driver)
fc-list 2>/dev/null | grep -qi 'noto.*cjk' || packages+=(fonts-noto-cjk)
if [ ${#packages[@]} -eq 0 ]; then
  echo "browser test tools already installed"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${packages[@]}"
