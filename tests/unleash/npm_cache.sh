# Sourced by install.sh, install_sdk.sh and install_spec.sh: install one npm package into a
# cache outside the clone (~/.cache/rollbot/...), so CI and developers download it once per
# version, not on every run.
#
#   npm_cache_install DIR WHAT PRINT NPM_ARGS...
#
# installs `npm install --prefix <scratch> NPM_ARGS...` into DIR (WHAT names it in messages)
# and prints PRINT (DIR or a folder inside it) on stdout; progress goes to stderr.
# Idempotent: a finished install is marked, and an existing one is reused as it is.
npm_cache_install() {
  local dir="$1" what="$2" print="$3"
  shift 3
  local parent base
  parent="$(dirname "$dir")"
  base="$(basename "$dir")"
  if [[ -f "$dir/.installed" ]]; then
    echo "$print"
    return 0
  fi
  command -v npm >/dev/null || { echo "npm is not installed: cannot install $what" >&2; return 3; }
  mkdir -p "$parent"
  # One install at a time: test workers (pytest-xdist) and other checkouts share this cache,
  # and a second install's `rm -rf "$dir"` would pull the first one's files from under it.
  # Whoever waited finds the install done.
  if command -v flock >/dev/null; then
    exec 9>"$parent/.${base}.lock"
    flock 9
    if [[ -f "$dir/.installed" ]]; then
      echo "$print"
      return 0
    fi
  fi
  # Install into a scratch folder and rename it into place, so an interrupted install never
  # leaves a half-filled cache that later runs would trust.
  local tmp
  tmp="$(mktemp -d "$parent/.${base}.XXXXXX")"
  # shellcheck disable=SC2064  # the scratch folder's name, as it is now
  trap "rm -rf '$tmp'" EXIT
  echo "installing $what into $dir ..." >&2
  echo "{\"name\":\"rollbot-${base%-*}\",\"private\":true}" > "$tmp/package.json"
  npm install --prefix "$tmp" --no-audit --no-fund --loglevel=error "$@" >&2
  touch "$tmp/.installed"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  trap - EXIT
  echo "$print"
}
