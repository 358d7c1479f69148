#!/usr/bin/env bash
# Make, locally, the two base images the Dockerfile names, because no image can be pulled here:
#   debian:bookworm-slim  a debootstrap (minbase) rootfs of Debian bookworm
#   rust:<ver>-bookworm   the same kind of rootfs plus gcc/libc6-dev/pkg-config/ca-certificates and
#                         the host's own Rust toolchain (rustc/cargo of `rustup default`), laid out
#                         like the official image (CARGO_HOME=/usr/local/cargo)
#   node:<ver>-bookworm-slim  the same minbase rootfs plus the host's Node.js and npm (/usr/bin/node,
#                         /usr/lib/node_modules/npm), for the web app's build stage
# The tags are read from the Dockerfile's ARG defaults, so the real Dockerfile builds unchanged.
# Needs a running Docker engine, debootstrap and the Debian mirror apt already uses.
# Re-runs are cheap: an image that already exists is kept (FORCE=1 remakes both; or docker rmi one).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${KRYTON_BASE_WORK:-$ROOT/.tools/docker-base}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm

arg_default() { sed -n "s/^ARG $1=//p" "$ROOT/Dockerfile" | head -n1; }
RUNTIME_TAG=$(arg_default RUNTIME_IMAGE)
BUILD_TAG=$(arg_default RUST_IMAGE)
NODE_TAG=$(arg_default NODE_IMAGE)
[[ -n "$RUNTIME_TAG" && -n "$BUILD_TAG" && -n "$NODE_TAG" ]] || { echo "base: cannot read ARG defaults from Dockerfile" >&2; exit 1; }

have_image() { [[ "${FORCE:-0}" != 1 ]] && docker image inspect "$1" >/dev/null 2>&1; }

bootstrap() { # DIR [extra packages, comma-separated]
  local dir=$1 include=${2:-}
  rm -rf "$dir"
  mkdir -p "$dir"
  debootstrap --variant=minbase ${include:+--include="$include"} "$SUITE" "$dir" "$MIRROR" \
    > "$dir.log" 2>&1 || { tail -n 20 "$dir.log" >&2; return 1; }
  # Like the official slim images: no apt lists or caches baked in.
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/archives/*.deb
}

mkdir -p "$WORK"

if have_image "$RUNTIME_TAG"; then
  echo "base: $RUNTIME_TAG already present"
else
  echo "base: debootstrap $SUITE -> $RUNTIME_TAG"
  bootstrap "$WORK/runtime"
  tar -C "$WORK/runtime" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - "$RUNTIME_TAG" >/dev/null
  rm -rf "$WORK/runtime"
fi

if have_image "$BUILD_TAG"; then
  echo "base: $BUILD_TAG already present"
else
  sysroot=$(rustc --print sysroot)
  host_minor=$(rustc --version | sed -n 's/^rustc \([0-9]*\.[0-9]*\).*/\1/p')
  tag_minor=$(sed -n 's/^rust:\([0-9]*\.[0-9]*\).*/\1/p' <<<"$BUILD_TAG")
  if [[ "$host_minor" != "$tag_minor" ]]; then
    echo "base: warning: $BUILD_TAG will hold the host's rustc $host_minor, not $tag_minor" >&2
  fi
  echo "base: debootstrap $SUITE + toolchain $(rustc --version) -> $BUILD_TAG"
  bootstrap "$WORK/build" "gcc,libc6-dev,pkg-config,ca-certificates,git,make"
  # rustc finds its libraries relative to its own path, so bin/ + lib/ is a complete toolchain
  # (share/ is documentation). cargo is a standalone binary.
  mkdir -p "$WORK/build/usr/local/rust" "$WORK/build/usr/local/cargo/bin"
  cp -a "$sysroot/bin" "$sysroot/lib" "$WORK/build/usr/local/rust/"
  # cargo fetches crates over HTTPS from inside the build: trust what the host trusts (a machine
  # whose egress goes through a TLS proxy adds its CA under /usr/local/share/ca-certificates).
  # Only this local stand-in gets it; the official image never sees the host's CAs.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$WORK/build/usr/local/share/ca-certificates/"
    chroot "$WORK/build" update-ca-certificates >/dev/null 2>&1
  fi
  tar -C "$WORK/build" -c . | docker import \
    --change 'ENV RUSTUP_HOME=/usr/local/rustup' \
    --change 'ENV CARGO_HOME=/usr/local/cargo' \
    --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - "$BUILD_TAG" >/dev/null
  rm -rf "$WORK/build"
fi
if have_image "$NODE_TAG"; then
  echo "base: $NODE_TAG already present"
else
  node_bin=$(readlink -f "$(command -v node)")
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  echo "base: debootstrap $SUITE + node $("$node_bin" --version) -> $NODE_TAG"
  bootstrap "$WORK/node" "ca-certificates,libstdc++6"
  install -D -m 0755 "$node_bin" "$WORK/node/usr/local/bin/node"
  mkdir -p "$WORK/node/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$WORK/node/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$WORK/node/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$WORK/node/usr/local/bin/npx"
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$WORK/node/usr/local/share/ca-certificates/"
    chroot "$WORK/node" update-ca-certificates >/dev/null 2>&1
  fi
  tar -C "$WORK/node" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["node"]' - "$NODE_TAG" >/dev/null
  rm -rf "$WORK/node"
fi
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "^($RUNTIME_TAG|$BUILD_TAG|$NODE_TAG) " || true
