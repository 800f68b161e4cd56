#!/usr/bin/env bash
# Install Unleash's Node.js SDK (npm `unleash-client`) into a cache outside the clone (see
# npm_cache.sh), so tests can point the real SDK at a running rollbot. Prints the install
# directory on stdout.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/npm_cache.sh"
VERSION="${UNLEASH_NODE_SDK_VERSION:-6.12.1}"
DIR="${XDG_CACHE_HOME:-$HOME/.cache}/rollbot/unleash-client-node-${VERSION}"
npm_cache_install "$DIR" "unleash-client@${VERSION}" "$DIR" \
  --omit=dev "unleash-client@${VERSION}"
