#!/usr/bin/env bash
# Install the Unleash server used by the unleash flag provider's tests into a cache outside
# the clone (see npm_cache.sh). Prints the install directory on stdout.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/npm_cache.sh"
VERSION="${UNLEASH_VERSION:-7.5.1}"  # 7.5.1: the newest that declares support for Node 20
DIR="${XDG_CACHE_HOME:-$HOME/.cache}/rollbot/unleash-${VERSION}"
npm_cache_install "$DIR" "unleash-server@${VERSION}" "$DIR" \
  --omit=dev --engine-strict=false "unleash-server@${VERSION}"
