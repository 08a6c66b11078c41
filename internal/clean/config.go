package clean

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/scour-dev/scour/internal/clean/hamming"
)

// Reason codes: why an image was flagged. They name the quarantine folders
// (quarantine/<reason>/<class>/...) and the catalog's images.reason column.
const (
	ReasonBroken         = "broken"          // does not decode (method: the decoder's cause)
	ReasonDuplicate      = "duplicate"       // a copy of a better image of the same class
	ReasonCrossClass     = "cross-class"     // the same picture sits in two or more classes
	ReasonTooSmall       = "too-small"       // shorter side under MinSide
	ReasonOddAspect      = "odd-aspect"      // longer side over MaxAspect times the shorter
	ReasonLowInformation = "low-information" // near-uniform: little entropy or contrast
	ReasonDark           = "dark"
	ReasonBright         = "bright"
	ReasonBlurry         = "blurry"
	ReasonGrayscale      = "grayscale"
	ReasonOffTopic       = "off-topic"
	// ReasonMisfiled: it looks like another class of the project, which
	// the flag's detail (and clean_scores.suggest) names.
	ReasonMisfiled = "misfiled"
	// ReasonRejected is a person's decision (see SetDecision), not a check.
	ReasonRejected = "rejected"
)

// reasonOrder ranks reasons: an image flagged for several is quarantined
// under the first. Duplicates come early because restoring a redundant
// copy is rarely what anyone wants, whatever else is wrong with it.
var reasonOrder = []string{
	ReasonRejected, ReasonBroken, ReasonDuplicate, ReasonCrossClass, ReasonTooSmall, ReasonOddAspect,
	ReasonLowInformation, ReasonDark, ReasonBright, ReasonBlurry, ReasonGrayscale, ReasonOffTopic, ReasonMisfiled,
}

// Reasons lists every reason clean gives, most important first.
func Reasons() []string { return slices.Clone(reasonOrder) }

// Off-topic methods.
const (
	MethodAuto      = "auto"      // reference when the class has reference images, else project
	MethodLabels    = "labels"    // share none of the references' top-k labels
	MethodReference = "reference" // embedding similarity to the references, robust z-score
	MethodOutlier   = "outlier"   // k-nearest-neighbour density within the class, robust z-score
	MethodProject   = "project"   // unlike what the whole project shares; see project.go
	MethodOff       = "off"       // no off-topic check
)

// Config is the `clean:` section of scour.yaml. Zero values mean "use the
// default" only through Default; Validate rejects nonsense.
type Config struct {
	// Disable lists reason codes whose checks do not run, e.g. [grayscale].
	Disable []string `yaml:"disable"`
	// MaxPixels is the decompression-bomb guard: images whose header
	// promises more pixels are flagged broken without being decoded.
	MaxPixels int64 `yaml:"max_pixels"`

	MinSide   int     `yaml:"min_side"`   // too-small: shorter side below this, in pixels
	MaxAspect float64 `yaml:"max_aspect"` // odd-aspect: longer/shorter side above this

	// The pixel measures below are taken on a grey copy whose longer side is
	// at most 256 pixels (never enlarged), with 8-bit levels 0..255.
	MinSharpness  float64 `yaml:"min_sharpness"`  // blurry: variance of the Laplacian below this
	DarkBelow     float64 `yaml:"dark_below"`     // dark: mean brightness below this
	BrightAbove   float64 `yaml:"bright_above"`   // bright: mean brightness above this
	MinEntropy    float64 `yaml:"min_entropy"`    // low-information: histogram entropy (bits, 0..8) below this
	MinContrast   float64 `yaml:"min_contrast"`   // low-information: or brightness standard deviation below this
	GrayscaleUpTo float64 `yaml:"grayscale_upto"` // grayscale: mean of max(R,G,B)-min(R,G,B) at most this

	Duplicates DuplicateConfig `yaml:"duplicates"`
	OffTopic   OffTopicConfig  `yaml:"off_topic"`
}

// DuplicateConfig tunes duplicate detection.
type DuplicateConfig struct {
	// PHashDistance: images whose 64-bit perceptual hashes differ in at most
	// this many bits are near-duplicates.
	PHashDistance int `yaml:"phash_distance"`
	// MinCosine: images whose embeddings have at least this cosine
	// similarity are near-duplicates too (only when a labeler gives
	// embeddings). 0 turns the embedding comparison off.
	MinCosine float64 `yaml:"min_cosine"`
	// ConfirmDistance and ConfirmCosine: images whose hashes differ in at
	// most ConfirmDistance bits and whose embeddings have at least
	// ConfirmCosine similarity are near-duplicates: two looser signals that
	// agree, which catches crops. ConfirmCosine 0 turns it off.
	ConfirmDistance int     `yaml:"confirm_distance"`
	ConfirmCosine   float64 `yaml:"confirm_cosine"`
}

// OffTopicConfig tunes the off-topic check.
type OffTopicConfig struct {
	// Method is the default for classes that do not choose their own:
	// auto, labels, reference, outlier, project or off.
	Method string `yaml:"method"`
	// TopK is how many of the labeler's labels count for the labels method.
	TopK int `yaml:"top_k"`
	// MaxZ: an image is off-topic when its robust z-score is below -MaxZ.
	MaxZ float64 `yaml:"max_z"`
	// MinLabelOverlap: the reference method also flags an image whose
	// labels overlap the class's less than this fraction of the median
	// image's overlap (0.1: ten times less). 0 judges by embeddings alone.
	MinLabelOverlap float64 `yaml:"min_label_overlap"`
	// Neighbours is k for the outlier method's k-nearest-neighbour density.
	Neighbours int `yaml:"neighbours"`
	// MinImages: classes with fewer images with embeddings are not judged
	// by the reference and outlier methods (too few for a distribution).
	MinImages int `yaml:"min_images"`
	// BatchSize is how many images go to the labeler at once.
	BatchSize int `yaml:"batch_size"`
	// MisfiledZ: an image is misfiled only when how much closer it is to
	// another class's centre than to its own is more than MisfiledZ robust
	// standard deviations above the project's median, and two out-of-fold
	// heads agree (see misfiled.go). The heads decide most; the centres
	// stop a head's confident mistake between two classes that the
	// project's embeddings barely tell apart (B-1 and B-52 bombers in the
	// noisy-web scrape). Measured with 5% swaps (precision/recall): six
	// distinct boats classes 0.97/0.93 at 1 and 1.00/0.90 at 2; with
	// fishing boats, security boats and tugs among them 0.88/0.82 at 1 and
	// 0.91/0.75 at 2.
	MisfiledZ float64 `yaml:"misfiled_z"`
}

// Default returns the settings used for everything scour.yaml leaves out.
// The pixel thresholds were set on the shared boats, find-the-ship and
// CIFAR-10 photos so that almost no ordinary photo trips them (see
// TestDefaultsOnRealPhotos).
func Default() Config {
	return Config{
		MaxPixels:     64_000_000,
		MinSide:       64,
		MaxAspect:     3.5,
		MinSharpness:  40,
		DarkBelow:     30,
		BrightAbove:   230,
		MinEntropy:    3,
		MinContrast:   8,
		GrayscaleUpTo: 3,
		Duplicates:    DuplicateConfig{PHashDistance: 6, MinCosine: 0.97, ConfirmDistance: 12, ConfirmCosine: 0.9},
		OffTopic: OffTopicConfig{
			Method: MethodAuto, TopK: 4, MaxZ: 3, MinLabelOverlap: 0.1, Neighbours: 10, MinImages: 20, BatchSize: 32, MisfiledZ: 1,
		},
	}
}

// Validate checks that every setting makes sense and names the first that
// does not, by its scour.yaml key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("clean.%s: "+format, append([]any{key}, args...)...))
	}
	for _, r := range c.Disable {
		if !slices.Contains(reasonOrder, r) || r == ReasonRejected {
			bad("disable", "unknown check %q (checks: %s)", r, strings.Join(checkNames(), ", "))
		}
	}
	if c.MaxPixels <= 0 {
		bad("max_pixels", "must be positive, got %d", c.MaxPixels)
	}
	if c.MinSide < 1 {
		bad("min_side", "must be at least 1, got %d", c.MinSide)
	}
	if c.MaxAspect < 1 {
		bad("max_aspect", "must be at least 1, got %g", c.MaxAspect)
	}
	if c.MinSharpness < 0 {
		bad("min_sharpness", "must not be negative, got %g", c.MinSharpness)
	}
	if c.DarkBelow < 0 || c.DarkBelow > 255 {
		bad("dark_below", "must be within 0..255, got %g", c.DarkBelow)
	}
	if c.BrightAbove < 0 || c.BrightAbove > 255 {
		bad("bright_above", "must be within 0..255, got %g", c.BrightAbove)
	}
	if c.DarkBelow >= c.BrightAbove {
		bad("dark_below", "%g is not below bright_above (%g)", c.DarkBelow, c.BrightAbove)
	}
	if c.MinEntropy < 0 || c.MinEntropy > 8 {
		bad("min_entropy", "must be within 0..8 bits, got %g", c.MinEntropy)
	}
	if c.MinContrast < 0 {
		bad("min_contrast", "must not be negative, got %g", c.MinContrast)
	}
	if c.GrayscaleUpTo < 0 || c.GrayscaleUpTo > 255 {
		bad("grayscale_upto", "must be within 0..255, got %g", c.GrayscaleUpTo)
	}
	if d := c.Duplicates.PHashDistance; d < 0 || d > hamming.MaxDistance {
		bad("duplicates.phash_distance", "must be within 0..%d, got %d", hamming.MaxDistance, d)
	}
	if m := c.Duplicates.MinCosine; m < 0 || m > 1 {
		bad("duplicates.min_cosine", "must be within 0..1 (0 = off), got %g", m)
	}
	if d := c.Duplicates.ConfirmDistance; d < 0 || d > hamming.MaxDistance {
		bad("duplicates.confirm_distance", "must be within 0..%d, got %d", hamming.MaxDistance, d)
	}
	if m := c.Duplicates.ConfirmCosine; m < 0 || m > 1 {
		bad("duplicates.confirm_cosine", "must be within 0..1 (0 = off), got %g", m)
	}
	o := c.OffTopic
	if err := validMethod(o.Method); err != nil {
		bad("off_topic.method", "%v", err)
	}
	if o.TopK < 1 {
		bad("off_topic.top_k", "must be at least 1, got %d", o.TopK)
	}
	if o.MaxZ <= 0 {
		bad("off_topic.max_z", "must be positive, got %g", o.MaxZ)
	}
	if o.MinLabelOverlap < 0 || o.MinLabelOverlap >= 1 {
		bad("off_topic.min_label_overlap", "must be within 0..1 (0 = off), got %g", o.MinLabelOverlap)
	}
	if o.Neighbours < 1 {
		bad("off_topic.neighbours", "must be at least 1, got %d", o.Neighbours)
	}
	if o.MinImages < 2 {
		bad("off_topic.min_images", "must be at least 2, got %d", o.MinImages)
	}
	if o.MisfiledZ <= 0 {
		bad("off_topic.misfiled_z", "must be positive, got %g", o.MisfiledZ)
	}
	if o.BatchSize < 1 {
		bad("off_topic.batch_size", "must be at least 1, got %d", o.BatchSize)
	}
	return errors.Join(errs...)
}

func validMethod(m string) error {
	switch m {
	case MethodAuto, MethodLabels, MethodReference, MethodOutlier, MethodProject, MethodOff:
		return nil
	}
	return fmt.Errorf("unknown method %q (methods: auto, labels, reference, outlier, project, off)", m)
}

func (c Config) enabled(reason string) bool { return !slices.Contains(c.Disable, reason) }

func checkNames() []string {
	var out []string
	for _, r := range reasonOrder {
		if r != ReasonRejected {
			out = append(out, r)
		}
	}
	return out
}
