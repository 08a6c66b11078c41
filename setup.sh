#!/bin/sh
# Sets scour up on a fresh machine and runs it on the offline demo.
#   ./setup.sh            build bin/scour, fetch the ONNX Runtime library, run the demo in ./demo
#   SCOUR_NO_DEMO=1 ./setup.sh   only set up
set -eu
cd "$(dirname "$0")"

command -v go >/dev/null 2>&1 || { echo "setup.sh: Go 1.26 or newer is needed (https://go.dev/dl/)" >&2; exit 1; }

echo "== Go modules"
go mod download

echo "== ONNX Runtime (for clean's local recognizer; scour runs without it)"
if lib=$(.ci/onnxruntime.sh 2>/dev/null); then
	echo "   $lib"
else
	echo "   not installed (npm missing or offline): the model-free checks still run"
fi

echo "== build"
mkdir -p bin
go build -o bin/scour ./cmd/scour
echo "   bin/scour"

[ -n "${SCOUR_NO_DEMO:-}" ] && exit 0

echo "== demo (examples/offline -> ./demo)"
if [ ! -f demo/scour.yaml ]; then
	mkdir -p demo
	cp -R examples/offline/. demo/
fi
bin/scour -C demo run
echo
echo "Done. Open demo/report/index.html; try bin/scour -C demo review, or bin/scour --help"
