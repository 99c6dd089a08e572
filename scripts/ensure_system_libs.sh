#!/usr/bin/env bash
# Installs the system libraries Qt (and the test tools) need when they are missing.
# Usage: ensure_system_libs.sh [runtime|test]. Quiet and quick when everything is present.
set -euo pipefail
mode="${1:-runtime}"
# library soname -> Debian package
declare -A libs=(
  [libEGL.so.1]=libegl1 [libGL.so.1]=libgl1 [libxkbcommon.so.0]=libxkbcommon0
  [libfontconfig.so.1]=libfontconfig1 [libdbus-1.so.3]=libdbus-1-3 [libxkbcommon-x11.so.0]=libxkbcommon-x11-0
  [libxcb-cursor.so.0]=libxcb-cursor0 [libxcb-icccm.so.4]=libxcb-icccm4 [libxcb-keysyms.so.1]=libxcb-keysyms1
  [libxcb-shape.so.0]=libxcb-shape0 [libxcb-randr.so.0]=libxcb-randr0 [libxcb-render-util.so.0]=libxcb-render-util0
  [libxcb-image.so.0]=libxcb-image0 [libxcb-xinerama.so.0]=libxcb-xinerama0 [libxcb-xkb.so.1]=libxcb-xkb1
  [libX11-xcb.so.1]=libx11-xcb1 [libglib-2.0.so.0]=libglib2.0-0 [libfreetype.so.6]=libfreetype6
)
missing=()
cache="$(ldconfig -p 2>/dev/null || true)"
for so in "${!libs[@]}"; do
  grep -q "$so" <<<"$cache" || missing+=("${libs[$so]}")
done
if [ "$mode" = "test" ]; then
  command -v dcmdump >/dev/null || missing+=(dcmtk)
  command -v dciodvfy >/dev/null || missing+=(dicom3tools)
  command -v pdftotext >/dev/null || missing+=(poppler-utils)
  command -v ojph_compress >/dev/null || missing+=(openjph-tools)
  command -v getscu >/dev/null || missing+=(dcmtk)  # storescu/findscu/getscu for the DICOM network tests
  command -v Orthanc >/dev/null || [ -x /usr/sbin/Orthanc ] || missing+=(orthanc)  # a real PACS for those tests
  fc-list 2>/dev/null | grep -qi dejavu || missing+=(fonts-dejavu-core)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages: ${missing[*]} - install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
