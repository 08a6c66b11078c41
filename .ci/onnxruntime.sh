#!/bin/sh
# Fetches the ONNX Runtime shared library that scour's local labeler loads
# (internal/vision). The Linux x64 build ships inside the npm package
# onnxruntime-node; we take that one file out of the package tarball and never
# run the package's install script (it tries to download more and fails
# offline). The version must match the C API the Go binding
# (github.com/yalue/onnxruntime_go v1.27.0) was written against.
#
# Prints the path of libonnxruntime.so.1 on success. Idempotent: does nothing
# when the file is already there.
set -eu

version="${ONNXRUNTIME_VERSION:-1.30.0}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/scour/onnxruntime-$version"
lib="$cache/libonnxruntime.so.1"
member="package/bin/napi-v6/linux/x64/libonnxruntime.so.1"

if [ -s "$lib" ]; then
	echo "$lib"
	exit 0
fi

case "$(uname -s)/$(uname -m)" in
Linux/x86_64) ;;
*)
	echo "onnxruntime.sh: only Linux x86_64 is handled here; install ONNX Runtime $version yourself and set SCOUR_ONNXRUNTIME_LIB" >&2
	exit 1
	;;
esac

command -v npm >/dev/null 2>&1 || {
	echo "onnxruntime.sh: npm is needed to fetch onnxruntime-node@$version" >&2
	exit 1
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT INT TERM

# npm pack only downloads the tarball; it runs no package scripts.
(cd "$tmp" && npm pack --silent "onnxruntime-node@$version" >/dev/null)
tgz="$(ls "$tmp"/onnxruntime-node-*.tgz)"
tar -xzf "$tgz" -C "$tmp" "$member"

mkdir -p "$cache"
# Copy then rename so a concurrent reader never sees a half-written library.
cp "$tmp/$member" "$lib.tmp.$$"
mv "$lib.tmp.$$" "$lib"
echo "$lib"
