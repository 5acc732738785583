#!/usr/bin/env bash
# Usage: .ci/xcaddy-build.sh [OUTPUT]   (default ./caddy)
#
# Builds a production Caddy with this plugin, as the README describes:
#   xcaddy build v2.11.9 --with github.com/minipay/caddy-minipay=.
# run from the repo root, with the GOPROXY stub from goproxy-stub.sh so that
# xcaddy's `go get` of our unpublished module uses the local replace.
set -euo pipefail
out=$(realpath -m "${1:-caddy}") # relative to the caller's directory
cd "$(dirname "$0")/.."

# The Caddy version is the one go.mod requires (v2.11.9), so they can't drift.
caddy_ver=$(go list -m -f '{{.Version}}' github.com/caddyserver/caddy/v2)

xcaddy=$(command -v xcaddy || true)
if [[ -z $xcaddy ]]; then
	.ci/install-tool.sh github.com/caddyserver/xcaddy/cmd/xcaddy@v0.4.5
	xcaddy=$PWD/.ci/bin/xcaddy
fi

GOPROXY=$(.ci/goproxy-stub.sh)
export GOPROXY
echo "+ GOPROXY=$GOPROXY"
echo "+ $xcaddy build $caddy_ver --with github.com/minipay/caddy-minipay=. --output $out"
"$xcaddy" build "$caddy_ver" --with github.com/minipay/caddy-minipay=. --output "$out"
