package cloud

import (
	"context"
	"errors"
	"fmt"
	"image"
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
	"github.com/aws/aws-sdk-go-v2/service/rekognition/types"
	"github.com/aws/smithy-go"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/vision"
)

// RekognitionPerImage is DetectLabels' list price per image in US dollars
// ($1.00 per 1,000 images, the first pricing tier).
const RekognitionPerImage = 1.00 / 1000

// rekognitionMaxBytes is the API's limit on image bytes sent inline.
const rekognitionMaxBytes = 5 << 20

// RekognitionOptions configure NewRekognition; zero values pick defaults.
type RekognitionOptions struct {
	// Region defaults to the AWS configuration's (AWS_REGION, ~/.aws/config).
	Region string
	// Endpoint replaces the service's address (tests, VPC endpoints).
	Endpoint string
	// AccessKey and SecretKey, when set, replace the standard AWS
	// credential chain (environment, shared files, instance roles).
	AccessKey, SecretKey string
	MaxLabels            int     // labels per image; default 20
	MinConfidence        float64 // in percent, as the API takes it; default 50
	Concurrency          int     // DetectLabels calls at once; default 4
	// MaxAttempts is the SDK's tries per call, retries of throttling and
	// server errors included; 0 keeps the SDK's default (3).
	MaxAttempts int
	HTTPClient  *http.Client
}

// Rekognition labels images with AWS Rekognition DetectLabels, one call per
// image, Concurrency at a time. Images go inline: JPEG and PNG files of up
// to 5 MB as they are, anything else (WebP, GIF, BMP, TIFF, larger files)
// re-encoded as JPEG and shrunk to fit.
type Rekognition struct {
	client *rekognition.Client
	o      RekognitionOptions

	mu     sync.Mutex
	closed bool
}

// NewRekognition builds the client. It makes no request: missing or wrong
// credentials show up on the first Label as a Fatal error.
func NewRekognition(ctx context.Context, o RekognitionOptions) (*Rekognition, error) {
	if o.MaxLabels <= 0 {
		o.MaxLabels = 20
	}
	if o.MinConfidence <= 0 {
		o.MinConfidence = 50
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if (o.AccessKey == "") != (o.SecretKey == "") {
		return nil, errkind.Fatal(errors.New("cloud: Rekognition needs both an access key and a secret key, or neither (to use the AWS credential chain)"))
	}
	var opts []func(*config.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(o.AccessKey, o.SecretKey, "")))
	}
	if o.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(o.HTTPClient))
	}
	if o.MaxAttempts > 0 {
		opts = append(opts, config.WithRetryMaxAttempts(o.MaxAttempts))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, errkind.Fatal(fmt.Errorf("cloud: loading the AWS configuration: %w", err))
	}
	if cfg.Region == "" {
		return nil, errkind.Fatal(errors.New("cloud: Rekognition needs a region: set AWS_REGION or the region option"))
	}
	client := rekognition.NewFromConfig(cfg, func(ro *rekognition.Options) {
		if o.Endpoint != "" {
			ro.BaseEndpoint = aws.String(o.Endpoint)
		}
	})
	return &Rekognition{client: client, o: o}, nil
}

// Name keys cached labels: a change of backend labels everything again.
func (r *Rekognition) Name() string { return "aws-rekognition" }

// EstimateCost implements Pricer.
func (r *Rekognition) EstimateCost(n int) float64 { return float64(n) * RekognitionPerImage }

// Close makes later calls fail; it is idempotent.
func (r *Rekognition) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return nil
}

func (r *Rekognition) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// Label implements vision.Labeler by sending each image as a JPEG.
func (r *Rekognition) Label(ctx context.Context, imgs []image.Image) ([]vision.Result, error) {
	data, errs := encodeImages(imgs, rekognitionMaxBytes)
	return r.label(ctx, data, errs)
}

// LabelBytes implements vision.BytesLabeler.
func (r *Rekognition) LabelBytes(ctx context.Context, data [][]byte) ([]vision.Result, error) {
	prepared, errs := make([][]byte, len(data)), make([]error, len(data))
	for i, d := range data {
		prepared[i], errs[i] = upload(d, []string{"jpeg", "png"}, rekognitionMaxBytes)
	}
	return r.label(ctx, prepared, errs)
}

// label calls DetectLabels for every image without an error yet. The first
// failure of the whole service (throttling, credentials, cancellation)
// fails the call; a refusal of one image goes in its Result.
func (r *Rekognition) label(ctx context.Context, data [][]byte, errs []error) ([]vision.Result, error) {
	if r.isClosed() {
		return nil, errClosed
	}
	res := make([]vision.Result, len(data))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var callErr error
	sem := make(chan struct{}, r.o.Concurrency)
	var wg sync.WaitGroup
	for i := range data {
		if errs[i] != nil {
			res[i].Err = errs[i]
			continue
		}
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			out, err := r.client.DetectLabels(ctx, &rekognition.DetectLabelsInput{
				Image:         &types.Image{Bytes: data[i]},
				MaxLabels:     aws.Int32(int32(r.o.MaxLabels)),
				MinConfidence: aws.Float32(float32(r.o.MinConfidence)),
			})
			if err != nil {
				if kind := rekognitionError(err); kind != nil {
					mu.Lock()
					if callErr == nil {
						callErr = kind
					}
					mu.Unlock()
					cancel()
					return
				}
				res[i].Err = errkind.WithCause(errkind.Permanent(fmt.Errorf("cloud: Rekognition refused image %d: %w", i, err)), "refused")
				return
			}
			for _, l := range out.Labels {
				res[i].Labels = append(res[i].Labels, vision.Label{Name: aws.ToString(l.Name), Confidence: float64(aws.ToFloat32(l.Confidence)) / 100})
			}
		})
	}
	wg.Wait()
	if callErr != nil {
		return nil, callErr
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	return res, nil
}

// rekognitionError classifies err: nil when it concerns the image alone
// (bad format, too large, bad parameter), else the error of the whole call,
// marked retryable (throttling, server trouble) or fatal (credentials,
// permissions, quota, anything unknown).
func rekognitionError(err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "InvalidImageFormatException", "ImageTooLargeException", "InvalidParameterException":
			return nil
		case "ThrottlingException", "ProvisionedThroughputExceededException", "InternalServerError", "ServiceUnavailableException":
			return errkind.WithCause(errkind.Retryable(fmt.Errorf("cloud: Rekognition: %w", err), 0), "throttled")
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("cloud: Rekognition: %w", err)
	}
	if errkind.IsRetryable(err) {
		return errkind.Retryable(fmt.Errorf("cloud: Rekognition: %w", err), 0)
	}
	return errkind.Fatal(fmt.Errorf("cloud: Rekognition: %w", err))
}
