#!/usr/bin/env bash
# Stepwise developer entry point, for a Debian 12 machine (run as root or with sudo
# available). Installs whatever build dependency is missing, builds, then:
#   ./build.sh demo   runs the image-pipeline example (workflows/image_pipeline: real
#                     python3, node and exec functions) on a sample image, recorded
#                     in ./stepwise.db, and prints its timeline
#   ./build.sh test   runs every test: unit, CLI, conformance and the embedding
#                     example, then the same suite again under ASan + UBSan
#   ./build.sh build  only builds (into ./build)
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(cmake ninja-build g++ libboost1.81-dev libboost-json1.81-dev libsqlitecpp-dev
          libspdlog-dev doctest-dev libcli11-dev)
JOBS="${JOBS:-2}"

apt_install() {
  echo "Installing: $*"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # Functions (the examples and their tests) run on whatever python3 and node are
  # on PATH; Debian's packages only where there are none.
  command -v python3 >/dev/null || missing+=(python3)
  command -v node >/dev/null || missing+=(nodejs)
  if ((${#missing[@]})); then apt_install "${missing[@]}"; fi
}

# build DIR BUILD_TYPE [cmake args...]
# Debug information is -g1 (line tables: file:line in backtraces, sanitizer
# reports and profiles) instead of -g, which costs about a third more compile time.
build() {
  local dir="$1" type="$2"
  shift 2
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_CXX_FLAGS_DEBUG="-g1" "$@" >/dev/null
  cmake --build "$dir" -j"$JOBS"
}

case "${1:-}" in
  demo)
    install_missing
    build build RelWithDebInfo
    name="demo-$(date +%Y%m%dT%H%M%S)-$$"
    set -x
    # Recorded in ./stepwise.db: the timeline below reads it back from there.
    ./build/cli/stepwise run workflows/image_pipeline/image_pipeline.asl.json --name "$name" \
      --input-file workflows/image_pipeline/image_pipeline.input.json
    ./build/cli/stepwise timeline "image_pipeline:$name"
    ;;
  test)
    install_missing
    build build RelWithDebInfo
    ctest --test-dir build -j"$JOBS" --output-on-failure
    # CTest shows a passing test's output only on failure: print the
    # conformance report (counts per category) for the log.
    ./build/tests/conformance/stepwise_conformance tests/conformance/cases tests/conformance/known_failures.txt
    build build-asan Debug -DSTEPWISE_SANITIZE=ON -DSTEPWISE_BENCH=OFF
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      ctest --test-dir build-asan -j"$JOBS" --output-on-failure
    ;;
  build)
    install_missing
    build build RelWithDebInfo
    ;;
  *)
    echo "usage: ./build.sh demo|test|build" >&2
    exit 2
    ;;
esac
