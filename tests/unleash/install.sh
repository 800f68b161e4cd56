#!/usr/bin/env bash
# Install the Unleash server used by the unleash flag provider's tests into a cache outside
# the clone, so CI and developers download it once per version, not on every run.
# Idempotent: a finished install is marked, and an existing one is reused as it is.
# Prints the install directory on stdout (progress goes to stderr).
set -euo pipefail
VERSION="${UNLEASH_VERSION:-7.5.1}"  # 7.5.1: the newest that declares support for Node 20
DIR="${XDG_CACHE_HOME:-$HOME/.cache}/rollbot/unleash-${VERSION}"
if [[ -f "$DIR/.installed" ]]; then
  echo "$DIR"
  exit 0
fi
command -v npm >/dev/null || { echo "npm is not installed: cannot install unleash-server" >&2; exit 3; }
mkdir -p "$(dirname "$DIR")"
# One install at a time: test workers (pytest-xdist) and other checkouts share this cache,
# and a second install's `rm -rf "$DIR"` would pull the first one's files from under it.
# Whoever waited finds the install done.
if command -v flock >/dev/null; then
  exec 9>"$(dirname "$DIR")/.unleash-${VERSION}.lock"
  flock 9
  if [[ -f "$DIR/.installed" ]]; then
    echo "$DIR"
    exit 0
  fi
fi
# Install into a scratch folder and rename it into place, so an interrupted install never
# leaves a half-filled cache that later runs would trust.
TMP="$(mktemp -d "$(dirname "$DIR")/.unleash-${VERSION}.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
echo "installing unleash-server@${VERSION} into $DIR ..." >&2
echo '{"name":"rollbot-unleash-test-server","private":true}' > "$TMP/package.json"
npm install --prefix "$TMP" --omit=dev --no-audit --no-fund --loglevel=error \
  --engine-strict=false "unleash-server@${VERSION}" >&2
touch "$TMP/.installed"
rm -rf "$DIR"
mv "$TMP" "$DIR"
trap - EXIT
echo "$DIR"
