#!/bin/sh
# Installs what scour's tests need (once; cached under ~/.cache/scour) and
# runs every test. CI runs exactly this through .ci/run.
set -eu
cd "$(dirname "$0")"

echo "== test prerequisites"
# Debian packages: Chromium for the review page's browser tests; OpenCV's
# dnn module and onnx's checker judge exported ONNX models independently of
# ONNX Runtime; scikit-learn is the reference the transfer head must match.
need=""
command -v chromium >/dev/null 2>&1 || need="$need chromium"
/usr/bin/python3 -c 'import cv2' 2>/dev/null || need="$need python3-opencv"
/usr/bin/python3 -c 'import onnx' 2>/dev/null || need="$need python3-onnx"
/usr/bin/python3 -c 'import sklearn' 2>/dev/null || need="$need python3-sklearn"
if [ -n "$need" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "   apt-get install$need"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
	else
		echo "   missing:$need (apt-get install$need); the tests that need them skip" >&2
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
