package cloud

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/vision"
)

// VisionPerImage is Cloud Vision's list price for LABEL_DETECTION per image
// in US dollars ($1.50 per 1,000 units past the monthly free 1,000).
const VisionPerImage = 1.50 / 1000

const (
	// DefaultVisionEndpoint is the images:annotate method of the v1 API.
	DefaultVisionEndpoint = "https://vision.googleapis.com/v1/images:annotate"
	// visionBatch is the most images one annotate request may carry.
	visionBatch = 16
	// visionMaxBytes keeps each image, base64-encoded, well inside the
	// API's 10 MB request limit even when a batch is split to fit.
	visionMaxBytes = 4 << 20
	// visionRequestBytes is the most image bytes sent in one request.
	visionRequestBytes = 7 << 20
)

// VisionOptions configure NewVision; zero values pick defaults.
type VisionOptions struct {
	APIKey     string // required
	Endpoint   string // default DefaultVisionEndpoint
	MaxLabels  int    // labels per image; default 20
	HTTPClient *http.Client
}

// Vision labels images with Google Cloud Vision's images:annotate method
// (LABEL_DETECTION), up to 16 images per request, authenticated by an API
// key.
type Vision struct {
	o      VisionOptions
	client *http.Client

	mu     sync.Mutex
	closed bool
}

// NewVision checks the options; it makes no request.
func NewVision(o VisionOptions) (*Vision, error) {
	if o.APIKey == "" {
		return nil, errkind.Fatal(errors.New("cloud: Google Cloud Vision needs an API key"))
	}
	if o.Endpoint == "" {
		o.Endpoint = DefaultVisionEndpoint
	}
	if _, err := url.Parse(o.Endpoint); err != nil {
		return nil, errkind.Fatal(fmt.Errorf("cloud: Vision endpoint: %w", err))
	}
	if o.MaxLabels <= 0 {
		o.MaxLabels = 20
	}
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Minute}
	}
	return &Vision{o: o, client: client}, nil
}

// Name keys cached labels.
func (v *Vision) Name() string { return "google-vision" }

// EstimateCost implements Pricer.
func (v *Vision) EstimateCost(n int) float64 { return float64(n) * VisionPerImage }

// Close makes later calls fail; it is idempotent.
func (v *Vision) Close() error {
	v.mu.Lock()
	v.closed = true
	v.mu.Unlock()
	return nil
}

// Label implements vision.Labeler by sending each image as a JPEG.
func (v *Vision) Label(ctx context.Context, imgs []image.Image) ([]vision.Result, error) {
	data, errs := encodeImages(imgs, visionMaxBytes)
	return v.label(ctx, data, errs)
}

// LabelBytes implements vision.BytesLabeler. The API reads every common
// format, so only files over 4 MB are re-encoded.
func (v *Vision) LabelBytes(ctx context.Context, data [][]byte) ([]vision.Result, error) {
	prepared, errs := make([][]byte, len(data)), make([]error, len(data))
	for i, d := range data {
		prepared[i], errs[i] = upload(d, []string{"jpeg", "png", "gif", "webp", "bmp", "tiff"}, visionMaxBytes)
	}
	return v.label(ctx, prepared, errs)
}

type annotateRequest struct {
	Requests []imageRequest `json:"requests"`
}

type imageRequest struct {
	Image    imageContent `json:"image"`
	Features []feature    `json:"features"`
}

type imageContent struct {
	Content string `json:"content"` // base64
}

type feature struct {
	Type       string `json:"type"`
	MaxResults int    `json:"maxResults"`
}

type annotateResponse struct {
	Responses []struct {
		LabelAnnotations []struct {
			Description string  `json:"description"`
			Score       float64 `json:"score"`
		} `json:"labelAnnotations"`
		Error *apiStatus `json:"error"`
	} `json:"responses"`
	Error *apiStatus `json:"error"`
}

type apiStatus struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
}

func (v *Vision) label(ctx context.Context, data [][]byte, errs []error) ([]vision.Result, error) {
	v.mu.Lock()
	closed := v.closed
	v.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	res := make([]vision.Result, len(data))
	var batch []int
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := v.annotate(ctx, data, batch, res)
		batch, size = batch[:0], 0
		return err
	}
	for i := range data {
		if errs[i] != nil {
			res[i].Err = errs[i]
			continue
		}
		if len(batch) == visionBatch || (len(batch) > 0 && size+len(data[i]) > visionRequestBytes) {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		batch = append(batch, i)
		size += len(data[i])
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return res, nil
}

// annotate sends the images idx in one request and fills their results.
func (v *Vision) annotate(ctx context.Context, data [][]byte, idx []int, res []vision.Result) error {
	req := annotateRequest{}
	for _, i := range idx {
		req.Requests = append(req.Requests, imageRequest{
			Image:    imageContent{Content: base64.StdEncoding.EncodeToString(data[i])},
			Features: []feature{{Type: "LABEL_DETECTION", MaxResults: v.o.MaxLabels}},
		})
	}
	body, err := json.Marshal(req)
	if err != nil {
		return errkind.Fatal(fmt.Errorf("cloud: Vision request: %w", err))
	}
	u, _ := url.Parse(v.o.Endpoint)
	q := u.Query()
	q.Set("key", v.o.APIKey)
	u.RawQuery = q.Encode()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return errkind.Fatal(fmt.Errorf("cloud: Vision request: %w", err))
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := v.client.Do(hreq)
	if err != nil {
		// The URL carries the key: keep it out of messages.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("cloud: Vision: %w", ctx.Err())
		}
		return errkind.Retryable(fmt.Errorf("cloud: Vision: %w", err), 0)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return errkind.Retryable(fmt.Errorf("cloud: Vision: reading the response: %w", err), 0)
	}
	var ar annotateResponse
	jsonErr := json.Unmarshal(raw, &ar)
	if resp.StatusCode != http.StatusOK {
		msg := resp.Status
		if jsonErr == nil && ar.Error != nil {
			msg = fmt.Sprintf("%s: %s %s", resp.Status, ar.Error.Status, ar.Error.Message)
		}
		err := fmt.Errorf("cloud: Vision: %s", msg)
		switch {
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			after, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			return errkind.WithCause(errkind.Retryable(err, time.Duration(after)*time.Second), "throttled")
		default: // 400 for the whole request, 401/403 for the key or billing
			return errkind.Fatal(err)
		}
	}
	if jsonErr != nil || len(ar.Responses) != len(idx) {
		return errkind.Fatal(fmt.Errorf("cloud: Vision answered %d responses for %d images (%v)", len(ar.Responses), len(idx), jsonErr))
	}
	for k, i := range idx {
		r := ar.Responses[k]
		if r.Error != nil {
			res[i].Err = errkind.WithCause(errkind.Permanent(fmt.Errorf("cloud: Vision refused image %d: %s", i, r.Error.Message)), "refused")
			continue
		}
		for _, l := range r.LabelAnnotations {
			res[i].Labels = append(res[i].Labels, vision.Label{Name: l.Description, Confidence: l.Score})
		}
	}
	return nil
}
