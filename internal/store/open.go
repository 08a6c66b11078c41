package store

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/scour-dev/scour/internal/errkind"
)

// openS3Limit is how many calls Open lets run against an S3 bucket at once.
const openS3Limit = 32

// Open builds the store named by a project's configuration:
//
//   - "" or "local": a Local store in projectDir;
//   - "s3://bucket/prefix": an S3 store wrapped in WithLimit and WithRetry
//     (DefaultRetry). The server comes from the environment:
//     SCOUR_S3_ENDPOINT (empty: AWS), AWS_REGION, SCOUR_S3_PATH_STYLE
//     (a boolean; default true when an endpoint is set, since S3-compatible
//     servers usually need it), and credentials the standard AWS way.
//
// Anything else is a fatal configuration error.
func Open(ctx context.Context, spec, projectDir string) (Store, error) {
	switch {
	case spec == "" || spec == "local":
		return NewLocal(projectDir)
	case strings.HasPrefix(spec, "s3://"):
		bucket, prefix, err := ParseURL(spec)
		if err != nil {
			return nil, err
		}
		o := S3Options{
			Bucket:   bucket,
			Prefix:   prefix,
			Endpoint: os.Getenv("SCOUR_S3_ENDPOINT"),
			Region:   os.Getenv("AWS_REGION"),
		}
		o.PathStyle = o.Endpoint != ""
		if v := os.Getenv("SCOUR_S3_PATH_STYLE"); v != "" {
			if o.PathStyle, err = strconv.ParseBool(v); err != nil {
				return nil, errkind.Fatal(fmt.Errorf("store: SCOUR_S3_PATH_STYLE=%q: want true or false", v))
			}
		}
		s, err := NewS3(ctx, o)
		if err != nil {
			return nil, err
		}
		return WithRetry(WithLimit(s, openS3Limit), DefaultRetry), nil
	}
	return nil, errkind.Fatal(fmt.Errorf("store: unknown store %q: use \"local\" or \"s3://bucket/prefix\"", spec))
}

// ParseURL splits "s3://bucket/some/prefix" into its bucket and key prefix
// (without surrounding slashes; empty for a whole bucket).
func ParseURL(u string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok {
		return "", "", errkind.Fatal(fmt.Errorf("store: %q is not an s3:// address", u))
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	prefix = strings.Trim(prefix, "/")
	if bucket == "" || strings.ContainsAny(bucket, " ?#\\") {
		return "", "", errkind.Fatal(fmt.Errorf("store: %q: want s3://bucket or s3://bucket/prefix", u))
	}
	if prefix != "" {
		if err := ValidKey(prefix); err != nil {
			return "", "", errkind.Fatal(fmt.Errorf("store: %q: bad prefix: %w", u, err))
		}
	}
	return bucket, prefix, nil
}
