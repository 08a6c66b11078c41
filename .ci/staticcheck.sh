#!/bin/sh
# Installs staticcheck, which test.sh runs after go vet, and prints the
# binary's path.
#
# The version is pinned (v0.8.2 builds with Go 1.26 and checks its code) and
# is part of the cache path, so raising VERSION installs anew.
# Like versitygw.sh, the install runs outside scour's module so that it adds
# nothing to go.mod. A cold build takes about a minute.
set -eu

VERSION=v0.8.2
BIN_DIR="${SCOUR_BIN_DIR:-${HOME}/.cache/scour/bin}/staticcheck-${VERSION}"
BIN="${BIN_DIR}/staticcheck"

if [ ! -x "${BIN}" ]; then
	mkdir -p "${BIN_DIR}"
	tmp=$(mktemp -d)
	trap 'rm -rf "${tmp}"' EXIT
	(cd "${tmp}" && GOFLAGS= GOBIN="${BIN_DIR}" go install "honnef.co/go/tools/cmd/staticcheck@${VERSION}") >&2
fi
echo "${BIN}"
