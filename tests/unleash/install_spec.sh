#!/usr/bin/env bash
# Install Unleash's client specification (npm `@unleash/client-specification`: JSON test
# suites every Unleash SDK runs) into a cache outside the clone (see npm_cache.sh). Prints
# the folder holding the suites on stdout.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/npm_cache.sh"
VERSION="${UNLEASH_SPEC_VERSION:-6.1.0}"
DIR="${XDG_CACHE_HOME:-$HOME/.cache}/rollbot/unleash-client-specification-${VERSION}"
npm_cache_install "$DIR" "@unleash/client-specification@${VERSION}" \
  "$DIR/node_modules/@unleash/client-specification/specifications" \
  "@unleash/client-specification@${VERSION}"
