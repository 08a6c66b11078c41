#!/bin/sh
# Installs what scour's tests need (once; cached under ~/.cache/scour) and
# runs every test. CI runs exactly this through .ci/run.
set -eu
cd "$(dirname "$0")"

echo "== test prerequisites"
# The review page is tested in a real headless browser.
if ! command -v chromium >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
	else
		echo "   chromium missing: install it (apt-get install chromium) or the review tests skip" >&2
	fi
fi
go mod download
# The S3 store's conformance suite runs against a real S3-compatible server.
SCOUR_VERSITYGW=$(.ci/versitygw.sh)
export SCOUR_VERSITYGW
echo "   versitygw: $SCOUR_VERSITYGW"
# The local recognizer's tests run the real ONNX models.
SCOUR_ONNXRUNTIME_LIB=$(.ci/onnxruntime.sh)
export SCOUR_ONNXRUNTIME_LIB
echo "   onnxruntime: $SCOUR_ONNXRUNTIME_LIB"
# Static analysis beyond go vet; any finding fails the run.
STATICCHECK=$(.ci/staticcheck.sh)
echo "   staticcheck: $STATICCHECK"

echo "== go vet"
go vet ./...

echo "== staticcheck"
"$STATICCHECK" ./...

echo "== go test"
go test -count=1 -timeout 30m ./... "$@"
