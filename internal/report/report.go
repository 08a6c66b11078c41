// Package report turns what the earlier stages measured into one HTML page
// that a person reads to decide whether the dataset is clean enough and which
// trained model to keep: per-class counts at every stage, contact sheets of
// kept and quarantined images, training curves with an overfitting verdict
// per run, a ranking of sweep variants, confusion matrices and the worst
// mistakes.
//
// The package defines its own input types and imports no stage: the caller
// maps the catalog and the training runs into a Report, so the page can be
// rebuilt from saved numbers and tested without training anything.
package report

import "image"

// Report is everything one page shows. Sections whose input is empty are
// left out.
type Report struct {
	Title string
	// Generated is shown verbatim under the title (for example a timestamp);
	// Write never reads the clock, so the same Report gives the same bytes.
	Generated string
	Dataset   *Dataset
	Sweep     Sweep
	// Thresholds decide the overfitting verdicts; zero fields take the
	// defaults of DefaultThresholds.
	Thresholds Thresholds
	// RankBy orders the sweep's ranking table; "" means ByValAccuracy.
	RankBy RankBy
}

// Dataset describes how the images of a project got where they are.
type Dataset struct {
	Classes []Class // in the order the page lists them
	// Sources and Licenses count kept images by the engine that found them
	// ("bing", "commons", ...) and by license family ("cc-by-sa", "cc0",
	// "none").
	Sources  []Count
	Licenses []Count
	// Credits are the kept images whose license asks for attribution;
	// Write lists them in CreditsFile beside the page.
	Credits CreditSource
	// Shortfalls are the classes short of their target, with the reason.
	Shortfalls []Shortfall
	// Searches says what each search brought, found to kept after clean.
	Searches []Search
	// Kept is shown as one contact sheet per class; Quarantined as one per
	// Sample.Reason. The caller picks how many: each becomes a thumbnail of
	// at most ThumbSize pixels embedded in the page.
	Kept        []Sample
	Quarantined []Sample
}

// Class holds one class's counts at each stage. Found >= Downloaded +
// failures is expected but not enforced: the page shows what it is given.
type Class struct {
	Name       string
	Found      int // candidate URLs recorded by search
	Downloaded int // URLs whose bytes arrived and decoded
	Duplicates int // downloads whose bytes were already in the catalog
	Kept       int // images that passed cleaning
	// Failed counts failed downloads by cause ("http-404", "timeout", ...)
	// and Quarantined counts images set aside by cleaning, by reason
	// ("near-duplicate", "off-topic", ...).
	Failed      []Count
	Quarantined []Count
}

// Count is a number of things that share a name (a cause, a reason, a
// source, a license).
type Count struct {
	Name string
	N    int
}

// Picture is an image to embed: either the encoded bytes in any format the
// catalog stores (JPEG, PNG, GIF, WebP, BMP, TIFF) or a decoded image. When
// both are set Encoded wins. Small JPEG and PNG bytes are embedded as they
// are; anything else is scaled to fit ThumbSize and re-encoded as JPEG.
type Picture struct {
	Encoded []byte
	Image   image.Image
}

// Sample is a dataset image on a contact sheet.
type Sample struct {
	Picture
	Class   string
	Reason  string // the quarantine reason; empty for kept images
	Caption string // optional extra line under the image (a short hash, a source)
}

// Sweep is a set of training runs to compare; a single run is a sweep of
// one, which gets no overlay chart and no ranking table.
type Sweep struct {
	Name string
	Runs []Run
}

// Run is one trained model.
type Run struct {
	Name string // unique within the sweep is best; charts are named by position, so duplicates still work
	Spec string // what was trained, in words ("conv 32-64-128, dropout 0.25 x2")
	// Epochs are the per-epoch metrics in order; epoch numbers on the page
	// start at 1. Accuracies are fractions in [0, 1].
	Epochs []Epoch
	Params int64 // trainable parameters; 0 = unknown
	// Test is the confusion matrix on the held-out test split; nil = none.
	Test *Confusion
	// Worst are the test images the model got most confidently wrong, in
	// the order to show them.
	Worst []Mistake
}

// Epoch is what one pass over the training data measured.
type Epoch struct {
	TrainLoss, TrainAcc float64
	ValLoss, ValAcc     float64
	Seconds             float64 // wall time of the epoch; 0 = unknown
}

// Confusion counts test images by true class (rows) and predicted class
// (columns): Counts[i][j] images of Classes[i] were predicted as
// Classes[j].
type Confusion struct {
	Classes []string
	Counts  [][]int
}

// Mistake is a misclassified test image.
type Mistake struct {
	Picture
	True, Predicted string
	Confidence      float64 // the model's probability for Predicted, in [0, 1]
	Caption         string  // optional extra line (a file name, a hash)
}
