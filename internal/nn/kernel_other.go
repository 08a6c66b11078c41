//go:build !amd64 || purego

package nn

// platformKernels has no assembly to offer on this platform or build.
func platformKernels() []*kernelSet { return nil }
