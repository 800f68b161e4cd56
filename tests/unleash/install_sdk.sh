#!/usr/bin/env bash
# Install Unleash's Node.js SDK (npm `unleash-client`) into a cache outside the clone, as
# install.sh does for the server, so tests can point the real SDK at a running rollbot.
# Idempotent; prints the install directory on stdout (progress goes to stderr).
set -euo pipefail
VERSION="${UNLEASH_NODE_SDK_VERSION:-6.12.1}"
DIR="${XDG_CACHE_HOME:-$HOME/.cache}/rollbot/unleash-client-node-${VERSION}"
if [[ -f "$DIR/.installed" ]]; then
  echo "$DIR"
  exit 0
fi
command -v npm >/dev/null || { echo "npm is not installed: cannot install unleash-client" >&2; exit 3; }
mkdir -p "$(dirname "$DIR")"
# A scratch folder renamed into place: an interrupted install never leaves a cache later runs trust.
TMP="$(mktemp -d "$(dirname "$DIR")/.unleash-client-node-${VERSION}.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
echo "installing unleash-client@${VERSION} into $DIR ..." >&2
echo '{"name":"rollbot-unleash-node-sdk","private":true}' > "$TMP/package.json"
npm install --prefix "$TMP" --omit=dev --no-audit --no-fund --loglevel=error \
  "unleash-client@${VERSION}" >&2
touch "$TMP/.installed"
rm -rf "$DIR"
mv "$TMP" "$DIR"
trap - EXIT
echo "$DIR"
