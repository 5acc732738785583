#!/usr/bin/env bash
# Usage: .ci/install-tool.sh PKG@VERSION   (installs into .ci/bin)
#
# Pinned tools are installed with `go install pkg@version`, which runs
# outside our module, so go.mod/go.sum never list them. Skipped when
# .ci/bin already has the binary built from that module version.
set -euo pipefail
cd "$(dirname "$0")/.."
pkg=${1%@*} ver=${1#*@}
bin=$PWD/.ci/bin/${pkg##*/}
if [[ -x $bin ]] && go version -m "$bin" | grep -qE "^\s+mod\s+\S+\s+$ver\s"; then
	echo "install-tool: $bin is already $ver"
	exit 0
fi
echo "install-tool: go install $pkg@$ver -> .ci/bin"
# GOFLAGS=-mod=mod overrides a -mod=vendor/readonly from the environment,
# which `go install pkg@version` would reject.
GOPROXY=$(.ci/goproxy-stub.sh) GOBIN=$PWD/.ci/bin GOFLAGS=-mod=mod go install "$pkg@$ver"
