#!/usr/bin/env bash
# Installs the Debian packages pilmon needs that are missing, when run as root; otherwise says
# exactly what to install. Usage: scripts/deps.sh demo|test
#   demo: what `make demo` needs at run time (Redis, Chromium, CJK fonts, APK tools for the
#         generated demo app)
#   test: what the test suite uses as real servers and as oracles
set -euo pipefail
mode=${1:-demo}
demo_pkgs=(redis-server chromium fonts-noto-cjk aapt android-framework-res libsmali-java zipalign apksigner)
test_pkgs=("${demo_pkgs[@]}" dexdump openssl poppler-utils androguard python3-xlwt python3-xlrd libjexcelapi-java default-jdk-headless nodejs libreoffice-writer-nogui)
case "$mode" in
  demo) want=("${demo_pkgs[@]}") ;;
  test) want=("${test_pkgs[@]}") ;;
  *) echo "usage: $0 demo|test" >&2; exit 2 ;;
esac

# Go is not taken from Debian (bookworm ships 1.19); pilmon needs the version in go.mod.
need_go=$(awk '/^go /{print $2; exit}' "$(dirname "$0")/../go.mod")
if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    echo "deps: go is in /usr/local/go/bin but not on PATH; run: export PATH=\$PATH:/usr/local/go/bin" >&2
  else
    echo "deps: Go $need_go or newer is required (https://go.dev/dl/, install to /usr/local/go)" >&2
  fi
  exit 1
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  echo "deps: install them with: sudo apt-get install -y ${missing[*]}" >&2
  # Redis is the one the tests and the demo cannot run without.
  if printf '%s\n' "${missing[@]}" | grep -qx redis-server; then exit 1; fi
  exit 0
fi
echo "deps: installing missing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed ${missing[*]}"
