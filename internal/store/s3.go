package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"

	"github.com/scour-dev/scour/internal/errkind"
)

// S3Options configures NewS3.
type S3Options struct {
	Bucket string
	// Prefix is prepended, with a "/", to every key; empty uses the whole
	// bucket. Slashes around it are ignored.
	Prefix string
	// Endpoint is the base URL of an S3-compatible server, for example
	// "http://127.0.0.1:7070"; empty means AWS.
	Endpoint string
	// Region defaults to the AWS configuration's, then "us-east-1".
	Region string
	// PathStyle addresses buckets as endpoint/bucket/key instead of
	// bucket.endpoint/key; most S3-compatible servers need it.
	PathStyle bool
	// AccessKey and SecretKey, when set, replace the standard AWS credential
	// chain (environment, shared files, instance roles).
	AccessKey, SecretKey string
	// PartSize is the multipart upload part size: bodies larger than it are
	// sent in parts. 0 means 8 MiB; S3 requires at least 5 MiB.
	PartSize int64
	// Timeout is the longest the client waits for the server to send
	// anything on a connection before it fails the call (retryably). 0
	// means 30 s.
	Timeout time.Duration
}

// S3 stores objects in an S3 bucket under a key prefix.
//
// Put goes through the SDK's upload manager: bodies up to PartSize are one
// PutObject, larger ones a multipart upload that is aborted on failure, so
// no partial object ever becomes visible. Move is CopyObject then
// DeleteObject (objects up to 5 GiB). Delete checks existence first, since
// S3 itself deletes missing keys without complaint. The SDK's own retries
// are off: wrap the store with WithRetry.
type S3 struct {
	client *s3.Client
	//lint:ignore SA1019 the successor, transfermanager, is not in go.mod yet
	up     *manager.Uploader
	bucket string
	prefix string // without trailing "/"
}

// NewS3 returns a store for o. It makes no request: a wrong bucket or bad
// credentials show up, as fatal errors, on the first call.
func NewS3(ctx context.Context, o S3Options) (*S3, error) {
	if o.Bucket == "" {
		return nil, errkind.Fatal(errors.New("store: S3 store needs a bucket name"))
	}
	prefix := strings.Trim(o.Prefix, "/")
	if prefix != "" {
		if err := ValidKey(prefix); err != nil {
			return nil, errkind.Fatal(fmt.Errorf("store: S3 prefix: %w", err))
		}
	}
	if (o.AccessKey == "") != (o.SecretKey == "") {
		return nil, errkind.Fatal(errors.New("store: S3 needs both an access key and a secret key, or neither (to use the AWS credential chain)"))
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	httpClient := awshttp.NewBuildableClient().
		WithReadTimeout(timeout).
		WithTransportOptions(func(tr *http.Transport) {
			// WithLimit callers run many calls at once against one host;
			// the default of 2 idle connections would reconnect constantly.
			tr.MaxIdleConnsPerHost = 64
		})
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(o.AccessKey, o.SecretKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, errkind.Fatal(fmt.Errorf("store: loading the AWS configuration: %w", err))
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	// Stages never print; the SDK would log warnings (such as skipped
	// checksum checks of multipart objects) straight to stderr.
	cfg.Logger = logging.Nop{}
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.PathStyle
		so.DisableLogOutputChecksumValidationSkipped = true
	})
	partSize := o.PartSize
	if partSize <= 0 {
		partSize = 8 << 20
	}
	if partSize < manager.MinUploadPartSize {
		return nil, errkind.Fatal(fmt.Errorf("store: S3 part size %d is below the minimum of %d bytes", partSize, manager.MinUploadPartSize))
	}
	//lint:ignore SA1019 see S3.up
	up := manager.NewUploader(client, func(u *manager.Uploader) {
		u.PartSize = partSize
		u.Concurrency = 4
	})
	return &S3{client: client, up: up, bucket: o.Bucket, prefix: prefix}, nil
}

func (s *S3) String() string {
	if s.prefix == "" {
		return "s3://" + s.bucket
	}
	return "s3://" + s.bucket + "/" + s.prefix
}

func (s *S3) object(key string) string {
	if s.prefix == "" {
		return key
	}
	return s.prefix + "/" + key
}

func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	in := &s3.PutObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.object(key)),
		// Not an io.Seeker, so the uploader reads the body in order and
		// bodyReader sees every byte.
		Body: &bodyReader{ctx: ctx, r: r, size: size},
	}
	if ct := mime.TypeByExtension(path.Ext(key)); ct != "" {
		in.ContentType = aws.String(ct)
	}
	//lint:ignore SA1019 see S3.up
	_, err := s.up.Upload(ctx, in)
	if err == nil {
		return nil
	}
	// The uploader aborts a failed multipart upload with the caller's
	// context, which fails when that context is what ended the upload; the
	// parts would then linger (invisible, but billed).
	if mf, ok := errors.AsType[manager.MultiUploadFailure](err); ok && ctx.Err() != nil && mf.UploadID() != "" { //nolint:staticcheck // see S3.up
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(s.bucket), Key: in.Key, UploadId: aws.String(mf.UploadID()),
		})
	}
	return s.fail("put", key, err)
}

func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.object(key))})
	if err != nil {
		return nil, s.fail("get", key, err)
	}
	return out.Body, nil
}

func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	return s.head(ctx, "stat", key)
}

// head is Stat for any operation that needs to know the object exists,
// reporting errors under op's name.
func (s *S3) head(ctx context.Context, op, key string) (Info, error) {
	if err := ValidKey(key); err != nil {
		return Info{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.object(key))})
	if err != nil {
		return Info{}, s.fail(op, key, err)
	}
	return Info{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// List relies on S3 listing keys in UTF-8 byte order, which is Go's string
// order. Objects whose names are not valid keys (for example "dir/" markers
// made by other tools) are skipped.
func (s *S3) List(ctx context.Context, prefix string, fn func(Info) error) error {
	full := prefix
	if s.prefix != "" {
		full = s.prefix + "/" + prefix
	}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(full)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.fail("list", prefix, err)
		}
		for _, obj := range page.Contents {
			key := aws.ToString(obj.Key)
			if s.prefix != "" {
				key = strings.TrimPrefix(key, s.prefix+"/")
			}
			if ValidKey(key) != nil {
				continue
			}
			if err := fn(Info{Key: key, Size: aws.ToInt64(obj.Size), ModTime: aws.ToTime(obj.LastModified)}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *S3) Move(ctx context.Context, src, dst string) error {
	if err := ValidKey(src); err != nil {
		return err
	}
	if err := ValidKey(dst); err != nil {
		return err
	}
	if src == dst {
		_, err := s.head(ctx, "move", src)
		return err
	}
	_, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket:     aws.String(s.bucket),
		Key:        aws.String(s.object(dst)),
		CopySource: aws.String(s.bucket + "/" + escapeKey(s.object(src))),
	})
	if err != nil {
		return s.fail("move", src, err)
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.object(src))}); err != nil {
		return s.fail("move (deleting the source)", src, err)
	}
	return nil
}

func (s *S3) Delete(ctx context.Context, key string) error {
	if _, err := s.head(ctx, "delete", key); err != nil {
		return err
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.object(key))}); err != nil {
		return s.fail("delete", key, err)
	}
	return nil
}

// escapeKey percent-encodes everything but unreserved characters and "/",
// as CopySource requires; a looser escape lets "+" turn into a space on
// some servers.
func escapeKey(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// fail classifies an SDK error: a missing object is ErrNotExist; a missing
// bucket or refused credentials are fatal (every later call would fail the
// same way); throttling, 5xx, resets and timeouts are retryable, with the
// server's Retry-After when it sent one.
func (s *S3) fail(op, key string, err error) error {
	var status int
	var header http.Header
	if re, ok := errors.AsType[*awshttp.ResponseError](err); ok {
		status = re.HTTPStatusCode()
		if re.Response != nil {
			header = re.Response.Header
		}
	}
	var code string
	if ae, ok := errors.AsType[smithy.APIError](err); ok {
		code = ae.ErrorCode()
	}
	switch {
	case code == "NoSuchBucket":
		return errkind.Fatal(fmt.Errorf("store: %s %q: bucket %q does not exist: create it or fix the s3:// address: %w", op, key, s.bucket, err))
	case code == "NoSuchKey" || code == "NotFound" || status == http.StatusNotFound:
		return fmt.Errorf("store: %s %q in %s: %w (%w)", op, key, s, ErrNotExist, err)
	case status == http.StatusForbidden || status == http.StatusUnauthorized ||
		code == "AccessDenied" || code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "ExpiredToken":
		return errkind.Fatal(fmt.Errorf("store: %s %q in %s: access denied: check the S3 credentials and the bucket's permissions: %w", op, key, s, err))
	}
	wrapped := fmt.Errorf("store: %s %q in %s: %w", op, key, s, err)
	if errors.Is(err, context.Canceled) {
		return wrapped
	}
	if status == http.StatusTooManyRequests || errkind.IsRetryable(err) ||
		retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary {
		return errkind.WithCause(errkind.Retryable(wrapped, retryAfter(header)), "s3-"+causeOf(status, code))
	}
	return wrapped
}

func causeOf(status int, code string) string {
	switch {
	case code != "":
		return code
	case status != 0:
		return strconv.Itoa(status)
	}
	return "network"
}

// retryAfter reads a Retry-After header in either of its forms.
func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
