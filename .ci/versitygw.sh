#!/bin/sh
# Installs the S3-compatible server used by scour's S3 store tests
# (internal/store/s3test) and prints the binary's path.
#
# The install runs outside scour's module so that it adds nothing to go.mod.
# A cold build takes about three minutes; later runs return at once.
set -eu

VERSION=v1.8.0
BIN_DIR="${SCOUR_BIN_DIR:-${HOME}/.cache/scour/bin}"
BIN="${BIN_DIR}/versitygw"

if [ ! -x "${BIN}" ]; then
	mkdir -p "${BIN_DIR}"
	tmp=$(mktemp -d)
	trap 'rm -rf "${tmp}"' EXIT
	# GOFLAGS cleared: a caller's -mod=vendor or similar must not leak in, and
	# running from an empty directory keeps the install out of any go.mod.
	(cd "${tmp}" && GOFLAGS= GOBIN="${BIN_DIR}" go install "github.com/versity/versitygw/cmd/versitygw@${VERSION}") >&2
fi
echo "${BIN}"
