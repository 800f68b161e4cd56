#!/usr/bin/env bash
# Install Unleash's client specification (npm `@unleash/client-specification`: JSON test
# suites every Unleash SDK runs) into a cache outside the clone, as install.sh does for the
# server. Idempotent; prints the folder holding the suites (progress goes to stderr).
set -euo pipefail
VERSION="${UNLEASH_SPEC_VERSION:-6.1.0}"
DIR="${XDG_CACHE_HOME:-$HOME/.cache}/rollbot/unleash-client-specification-${VERSION}"
SUITES="$DIR/node_modules/@unleash/client-specification/specifications"
if [[ -f "$DIR/.installed" ]]; then
  echo "$SUITES"
  exit 0
fi
command -v npm >/dev/null || { echo "npm is not installed: cannot install the specification" >&2; exit 3; }
mkdir -p "$(dirname "$DIR")"
# One install at a time: test workers (pytest-xdist) and other checkouts share this cache,
# and a second install's `rm -rf "$DIR"` would pull the first one's files from under it.
# Whoever waited finds the install done.
if command -v flock >/dev/null; then
  exec 9>"$(dirname "$DIR")/.unleash-spec-${VERSION}.lock"
  flock 9
  if [[ -f "$DIR/.installed" ]]; then
    echo "$SUITES"
    exit 0
  fi
fi
TMP="$(mktemp -d "$(dirname "$DIR")/.unleash-spec-${VERSION}.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
echo "installing @unleash/client-specification@${VERSION} into $DIR ..." >&2
echo '{"name":"rollbot-unleash-client-specification","private":true}' > "$TMP/package.json"
npm install --prefix "$TMP" --no-audit --no-fund --loglevel=error \
  "@unleash/client-specification@${VERSION}" >&2
touch "$TMP/.installed"
rm -rf "$DIR"
mv "$TMP" "$DIR"
trap - EXIT
echo "$SUITES"
