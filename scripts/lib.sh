# Shared by scripts/test and scripts/quickstart: install what is missing, configure, build.
# Sourced, not run. Works as root on a fresh Debian 12 machine with no stdin.

PGRECOVER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$PGRECOVER_ROOT/build}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

# Debian 12 packages pgrecover builds, tests and runs with.
PGRECOVER_PACKAGES=(
  g++ cmake ninja-build pkg-config
  libpq-dev libyaml-cpp-dev libtomlplusplus-dev libboost-graph-dev libspdlog-dev catch2
  libcli11-dev nlohmann-json3-dev libvalijson-dev libmstch-dev zlib1g-dev liblz4-dev libzstd-dev
  libssl-dev libcurl4-openssl-dev postgresql-15
)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

ensure_packages() {
  local missing=()
  local p
  for p in "${PGRECOVER_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing missing packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "error: need root (or sudo) to install: ${missing[*]}" >&2; return 1; }
    sudo=(sudo -n)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq </dev/null
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
}

# s3rver (npm), the S3-compatible server the integration tests start on 127.0.0.1, installed
# into a cache folder of ours (never globally). The tests find it through $PGRECOVER_S3RVER.
ensure_s3rver() {
  local cache="${PGRECOVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pgrecover}/s3rver"
  if ! command -v npm >/dev/null || ! command -v node >/dev/null; then ensure_packages nodejs npm; fi
  if [ ! -x "$cache/node_modules/.bin/s3rver" ]; then
    say "installing s3rver into $cache"
    mkdir -p "$cache"
    npm install --prefix "$cache" --no-audit --no-fund --loglevel=error s3rver@3 </dev/null
  fi
  export PGRECOVER_S3RVER="$cache/node_modules/.bin/s3rver"
}

build_pgrecover() {
  local generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  if [ -f "$BUILD_DIR/CMakeCache.txt" ] && ! grep -q "CMAKE_HOME_DIRECTORY:INTERNAL=$PGRECOVER_ROOT\$" "$BUILD_DIR/CMakeCache.txt"; then
    rm -rf "$BUILD_DIR"   # a build folder copied from another checkout
  fi
  if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
    say "configuring ($BUILD_DIR)"
    cmake -S "$PGRECOVER_ROOT" -B "$BUILD_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" </dev/null
  fi
  say "building with $JOBS jobs"
  cmake --build "$BUILD_DIR" --parallel "$JOBS" </dev/null
}
