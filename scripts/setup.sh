#!/usr/bin/env bash
# Installs what fma-viewer needs and configures the build; sourced by viewer.sh and test.sh.
# Debian packages come from apt-get; LibTorch comes from PyPI's torch wheel, pinned, in a
# virtual environment outside the clone ($FMAV_DEPS_DIR, default /opt/fmav-deps) so every
# clone on the machine reuses it. Idempotent: re-running installs and rebuilds only what is
# missing or changed. Runs as root without prompts.
set -euo pipefail

FMAV_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FMAV_TORCH_VERSION=2.11.0  # CUDA 13 wheel, matching the toolkit here and the GPU machines
FMAV_DEPS_DIR=${FMAV_DEPS_DIR:-/opt/fmav-deps}
FMAV_TORCH_ENV=$FMAV_DEPS_DIR/torch-$FMAV_TORCH_VERSION
FMAV_BUILD_DIR=${FMAV_BUILD_DIR:-$FMAV_ROOT/build}

FMAV_APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config ca-certificates    # toolchain
  python3 python3-venv                                              # to install the torch wheel
  libimgui-dev libglfw3-dev libgl-dev libgl1-mesa-dri libglx-mesa0  # GUI: ImGui, GLFW, OpenGL/Mesa
  libstb-dev fonts-dejavu-core                                      # PNG export, UI font
  nlohmann-json3-dev libcli11-dev                                   # safetensors headers, CLI
  libpcre2-dev libutf8proc-dev                                      # tokenizers: regexes, Unicode normalizers
  libgtest-dev libgmock-dev                                         # tests
  xvfb xauth xdotool                                                # GUI tests: no display, real input
)

fmav_log() { printf '\033[1m[fma-viewer]\033[0m %s\n' "$*" >&2; }

fmav_install_packages() {
  local missing=() pkg
  for pkg in "${FMAV_APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    fmav_log "missing Debian packages: ${missing[*]}; run as root (or install them) and retry"
    return 1
  fi
  fmav_log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

fmav_install_torch() {
  # The marker is written last: a cut-off install is detected and redone from scratch.
  [ -f "$FMAV_TORCH_ENV/.fmav-ready" ] && return 0
  fmav_log "installing LibTorch (PyPI torch==$FMAV_TORCH_VERSION) into $FMAV_TORCH_ENV (several GB, once per machine)"
  rm -rf "$FMAV_TORCH_ENV"
  mkdir -p "$FMAV_DEPS_DIR"
  /usr/bin/python3 -m venv "$FMAV_TORCH_ENV"
  "$FMAV_TORCH_ENV/bin/python" -m pip install --no-input --disable-pip-version-check -q \
    "torch==$FMAV_TORCH_VERSION"
  "$FMAV_TORCH_ENV/bin/python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)' \
    2>/dev/null > "$FMAV_TORCH_ENV/.fmav-cmake-prefix"
  touch "$FMAV_TORCH_ENV/.fmav-ready"
}

# The tests' peers (scripts/test.sh only; the app never runs Python): Hugging Face
# `transformers` and `tokenizers`, pinned, in LibTorch's environment, where
# tests/models/make_hf_models.py makes random models of every family the engine reads (and
# tests/models/make_hf_tokenizers.py trains tokenizers of every kind it reads) and
# their reference outputs.
FMAV_TRANSFORMERS_VERSION=5.25.0
FMAV_TOKENIZERS_VERSION=0.23.3
fmav_install_test_peers() {
  local marker=$FMAV_TORCH_ENV/.fmav-transformers-$FMAV_TRANSFORMERS_VERSION
  [ -f "$marker" ] && return 0
  fmav_log "installing transformers==$FMAV_TRANSFORMERS_VERSION, tokenizers==$FMAV_TOKENIZERS_VERSION (tests only)"
  "$FMAV_TORCH_ENV/bin/python" -m pip install --no-input --disable-pip-version-check -q \
    "transformers==$FMAV_TRANSFORMERS_VERSION" "tokenizers==$FMAV_TOKENIZERS_VERSION"
  touch "$marker"
}

# cuobjdump and nvdisasm for the SASS check of the CUDA kernels (scripts/sass_check.sh), only
# where nvcc is: NVIDIA's PyPI packages, pinned, into $FMAV_TORCH_ENV/sass-tools (the
# toolkit's apt packages here carry nvcc but not them). Puts their bin folder on PATH.
FMAV_CUOBJDUMP_VERSION=13.2.51
FMAV_NVDISASM_VERSION=13.2.86
fmav_install_sass_tools() {
  command -v nvcc > /dev/null || return 0
  local dir=$FMAV_TORCH_ENV/sass-tools
  local marker=$dir/.fmav-$FMAV_CUOBJDUMP_VERSION-$FMAV_NVDISASM_VERSION
  if [ ! -f "$marker" ]; then
    fmav_log "installing cuobjdump $FMAV_CUOBJDUMP_VERSION and nvdisasm $FMAV_NVDISASM_VERSION (the SASS check)"
    rm -rf "$dir"
    "$FMAV_TORCH_ENV/bin/python" -m pip install --no-input --disable-pip-version-check -q --target "$dir" \
      "nvidia-cuda-cuobjdump==$FMAV_CUOBJDUMP_VERSION" "nvidia-cuda-nvdisasm==$FMAV_NVDISASM_VERSION"
    touch "$marker"
  fi
  export PATH="$dir/nvidia/cu13/bin:$PATH"
}

# Configures the build folder (Release, Ninja) against the installed LibTorch.
fmav_configure() {
  local prefix
  prefix=$(cat "$FMAV_TORCH_ENV/.fmav-cmake-prefix")
  mkdir -p "$FMAV_BUILD_DIR"
  local log=$FMAV_BUILD_DIR/configure.log
  cmake -S "$FMAV_ROOT" -B "$FMAV_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix" -Wno-dev "$@" > "$log" 2>&1 || {
    cat "$log" >&2
    fmav_log "configure failed (log above, also in $log)"
    return 1
  }
}

fmav_setup() {
  fmav_install_packages
  fmav_install_torch
  fmav_configure "$@"
}
