// Package deploytest holds only tests: they check that the Kubernetes
// manifests and the Dockerfile in deploy/ parse into the real API types and
// carry what scour depends on (Indexed shards matching --shards, retries,
// credentials from a Secret, scour.yaml mounted where -C points, one image).
// Nothing imports it.
package deploytest
