#!/usr/bin/env bash
# Usage: .ci/walkthrough.sh [CADDY_BINARY]   (default ./caddy)
#
# Runs README.md's walkthroughs verbatim: starts Caddy with Caddyfile.example,
# executes each shell block between <!-- walkthrough:NAME:begin --> and
# <!-- walkthrough:NAME:end --> with bash, and checks that it printed what
# the README shows (the expectations per NAME are below).
set -euo pipefail
cd "$(dirname "$0")/.."
caddy=$(realpath "${1:-./caddy}")

# expect NAME: the strings a walkthrough's output must contain.
expect() {
	case $1 in
	wechat) printf '%s\n' '"openid":"os7xVv419cwT89c3EhFacTtXD_84"' '"paySign":"' '"acknowledged":true' \
		'"type":"payment.succeeded"' '"status":"succeeded"' '"status":"pending"' '"provider_code":"ORDERPAID"' ;;
	*) echo "walkthrough: no expectations for $1 in $0" >&2; return 1 ;;
	esac
}

log=$(mktemp)
"$caddy" run --config Caddyfile.example >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do
	curl -sf localhost:2019/config/ >/dev/null && break
	sleep 0.2
done
curl -sf localhost:2019/config/ >/dev/null || { echo "walkthrough: Caddy did not start"; cat "$log"; exit 1; }

names=$(sed -n 's/^<!-- walkthrough:\([a-z0-9_]*\):begin -->$/\1/p' README.md)
[[ -n $names ]] || { echo "walkthrough: no walkthrough block in README.md"; exit 1; }
for name in $names; do
	script=$(awk -v b="<!-- walkthrough:$name:begin -->" -v e="<!-- walkthrough:$name:end -->" \
		'$0==b{on=1; next} $0==e{on=0} on && !/^```/' README.md)
	echo "== walkthrough $name"
	out=$(bash -c "$script")
	echo "$out"
	wants=$(expect "$name")
	while IFS= read -r want; do
		if ! grep -qF -- "$want" <<<"$out"; then
			echo "walkthrough $name: expected $want in the output above"
			exit 1
		fi
	done <<<"$wants"
done
# The example's secrets (every literal key in Caddyfile.example) and the
# sandbox user's openid must never reach Caddy's log.
secrets=$(grep -oE '^\s*(api_key|app_secret|secret_key|client_secret)\s+\S+' Caddyfile.example | awk '{print $2}' | sort -u)
for s in $secrets os7xVv419cwT89c3EhFacTtXD_84; do
	if grep -qF -- "$s" "$log"; then
		echo "walkthrough: Caddy's log holds a secret or a clear openid"; exit 1
	fi
done
echo "walkthrough: every README walkthrough OK ($(echo $names))"
