#!/usr/bin/env bash
# Installs what the report tests look through: a headless Chromium (to print and screenshot the
# HTML report as a person sees it) and poppler's pdftotext/pdftoppm (to read the PDF back), from
# Debian's packages. A no-op when both are there; without root or apt-get, says what to install.
set -euo pipefail
have() { command -v "$1" >/dev/null 2>&1; }
browser=no
for b in chromium-headless-shell chromium chromium-browser google-chrome; do
  have "$b" && browser=yes && break
done
if [ "$browser" = yes ] && have pdftotext && have pdftoppm; then
  exit 0
fi
packages="chromium-headless-shell poppler-utils fonts-dejavu-core"
if [ "$(id -u)" != 0 ] || ! have apt-get; then
  echo "the report tests need a headless Chromium and poppler-utils: install $packages" >&2
  exit 1
fi
echo "installing $packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends $packages >/dev/null 2>&1 ||
  { apt-get update >/dev/null && apt-get install -y --no-install-recommends $packages >/dev/null; }
