#!/usr/bin/env bash
# Usage: export GOPROXY="$(.ci/goproxy-stub.sh)"
#
# Why: the module proxy this machine reaches answers 403 (not 404/410) for
# @v/list of modules it does not serve -- our unpublished module, and also
# github.com/caddyserver/xcaddy -- and Go treats 403 as fatal instead of
# falling back (to a local replace, or to the version it already has).
# We put a file:// proxy FIRST in GOPROXY that answers just those @v/list
# requests; every other request gets "not found" from it, so Go falls through
# to the real proxy. Prints the new GOPROXY value on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$PWD/.ci/goproxy"

# path [versions...]: write <dir>/<path>/@v/list with one version per line.
stub() {
	local path=$1; shift
	mkdir -p "$dir/$path/@v"
	if (($#)); then printf '%s\n' "$@"; fi >"$dir/$path/@v/list"
}

# Unpublished: an empty list means "no versions", so `go get` (run by xcaddy)
# uses the `--with ...=.` replace, as it would after a 404.
mod=github.com/minipay/caddy-minipay
for p in github.com/minipay "$mod" "$mod/caddymodule" "$mod/transform" "$mod/cmd" "$mod/cmd/caddy" "$mod/integration"; do
	stub "$p"
done
# `go install xcaddy@v0.4.5` reads the list to find "latest" for its
# deprecation check; naming the pinned version is enough for that.
stub github.com/caddyserver/xcaddy v0.4.5

rest=$(go env GOPROXY)
rest=${rest#"file://$dir,"} # idempotent when run again with the stub set
echo "goproxy-stub: $dir answers @v/list for $mod and xcaddy" >&2
echo "file://$dir,$rest"
