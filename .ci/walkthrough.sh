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
		'"type":"payment.succeeded"' '"status":"succeeded"' '"status":"pending"' \
		'"refund_id":"DEMO-1001-R1","provider_refund_id":"5' '"provider_status":"PROCESSING"' '"provider_code":"ORDERPAID"' ;;
	cbtis) printf '%s\n' '"signType":"RSA"' '"provider":"cbtis","order_id":"CBTIS-1001","provider_order_id":"C' \
		'"response_body":"success","acknowledged":true' '"type":"payment.succeeded","order_id":"CBTIS-1001"' \
		'"status":"succeeded","amount":"12.30","currency":"HKD","paid_at":"' '"provider_status":"SUCCEEDED"' ;;
	latipay) printf '%s\n' '"package":"prepay_id=wx' '"provider":"latipay","order_id":"LATI-1001","provider_order_id":"' \
		'"field":"currency"' '"response_body":"sent","acknowledged":true' \
		'"provider":"latipay","type":"payment.succeeded","order_id":"LATI-1001"' \
		'"status":"succeeded","amount":"12.30","currency":"NZD","paid_at":"' '"provider_status":"paid"' \
		'"refund_id":"LATI-1001-R1","provider_refund_id":"","status":"succeeded","amount":"2.30"' ;;
	2c2p) printf '%s\n' '"signType":"HMAC-SHA256","paySign":"' '"provider":"2c2p","order_id":"DEMO-2C2P-1","provider_order_id":"' \
		'"response_status":200,"acknowledged":true' '"provider":"2c2p","type":"payment.succeeded","order_id":"DEMO-2C2P-1"' \
		'"amount":"12.34","currency":"SGD"' '"provider_code":"99","provider_message":"Duplicate unique transaction code."' ;;
	wechat_v3) printf '%s\n' '"signType":"RSA","paySign":"' '"provider":"wechat_v3","order_id":"V3-1001"}' \
		'"notify_url":"http://localhost:8080/webhooks/wechat_v3","delivered":true,"response_status":200,"acknowledged":true' \
		'"status":"succeeded","amount":"12.30","currency":"CNY","paid_at":"' \
		'"status":"pending","amount":"2.30","currency":"CNY","provider_status":"PROCESSING"' \
		'"status":"succeeded","amount":"2.30","currency":"CNY","provider_status":"SUCCESS"' \
		'"provider":"wechat_v3","type":"payment.succeeded","order_id":"V3-1001"' \
		'"provider":"wechat_v3","type":"refund.succeeded","order_id":"V3-1001"' '"provider_code":"ORDERPAID"' ;;
	*) echo "walkthrough: no expectations for $1 in $0" >&2; return 1 ;;
	esac
}

log=$(mktemp)
# Caddy's storage and autosave go to a directory of this run, removed with it:
# Caddyfile.example names no storage, so the default one (the user's
# ~/.local/share/caddy) would keep the CBTIS token for the next run.
home=$(mktemp -d)
XDG_DATA_HOME=$home/data XDG_CONFIG_HOME=$home/config "$caddy" run --config Caddyfile.example >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true; rm -rf "$home" "$log"' EXIT
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
secrets=$(grep -oE '^\s*(api_key|api_v3_key|app_secret|secret_key|client_secret)\s+\S+' Caddyfile.example | awk '{print $2}' | sort -u)
for s in $secrets os7xVv419cwT89c3EhFacTtXD_84; do
	if grep -qF -- "$s" "$log"; then
		echo "walkthrough: Caddy's log holds a secret or a clear openid"; exit 1
	fi
done
echo "walkthrough: every README walkthrough OK ($(echo $names))"
