package pipeline

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/scour-dev/scour/internal/atomicfile"
	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/train"
)

// ClassProb is one class and the probability the model gives it.
type ClassProb struct {
	Class       string  `json:"class"`
	Probability float64 `json:"probability"`
}

// Prediction is one file's most likely classes, or why it could not be
// classified.
type Prediction struct {
	File       string      `json:"file"`
	Class      string      `json:"class,omitempty"`
	Confidence float64     `json:"confidence,omitempty"`
	Top        []ClassProb `json:"top,omitempty"` // the TopK most likely classes, most likely first
	Error      string      `json:"error,omitempty"`
}

// PredictFormats are the output formats Predict writes.
var PredictFormats = []string{"text", "csv", "jsonl", "json"}

// PredictOptions says how to classify and where the predictions go.
type PredictOptions struct {
	TopK   int    // classes listed per image; 0 = 1, more than the model has = all
	Format string // one of PredictFormats; "" = text
	// Output is a file replaced whole once every image is done; "" or "-"
	// writes to Stdout as predictions arrive.
	Output string
	Stdout io.Writer
	Events progress.Sink
}

// PredictSummary counts what Predict did.
type PredictSummary struct {
	Images     int    `json:"images"`
	Classified int    `json:"classified"`
	Failed     int    `json:"failed"`
	Output     string `json:"output,omitempty"`
}

// ArgError is a command-line argument that names nothing to work on: a
// pattern with no match, a folder with no images.
type ArgError struct{ Arg, Msg string }

func (e *ArgError) Error() string { return fmt.Sprintf("%s: %s", e.Arg, e.Msg) }

// Predict classifies the images that args name (files, folders walked for
// image files, glob patterns) with a model file written by train, and
// writes one prediction per image in argument order. An image that cannot
// be read or decoded is listed with its error and the rest are still
// classified, with one warning that counts them; the error is non-nil only
// when the model or the output fails, or when no image could be classified.
func Predict(ctx context.Context, model string, args []string, o PredictOptions) (PredictSummary, error) {
	var sum PredictSummary
	if o.Format == "" {
		o.Format = "text"
	}
	if !slices.Contains(PredictFormats, o.Format) {
		return sum, &ArgError{"--format " + o.Format, "want one of " + strings.Join(PredictFormats, ", ")}
	}
	files, err := ExpandImageArgs(args)
	if err != nil {
		return sum, err
	}
	if len(files) == 0 {
		return sum, &ArgError{strings.Join(args, " "), "names no image files"}
	}
	pr, err := train.LoadPredictor(ctx, model)
	if err != nil {
		return sum, err
	}
	defer pr.Close()
	k := max(1, min(o.TopK, len(pr.Meta.Classes)))

	w := o.Stdout
	var af *atomicfile.File
	if o.Output != "" && o.Output != "-" {
		if af, err = atomicfile.Create(o.Output); err != nil {
			return sum, fmt.Errorf("predict: %w", err)
		}
		defer af.Abort()
		w = af
		sum.Output = o.Output
	}
	out := newPredictionWriter(o.Format, w, k)

	progress.Start(o.Events, "predict", int64(len(files)))
	err = predictEach(ctx, pr, files, k, func(p Prediction) error {
		sum.Images++
		if p.Error != "" {
			sum.Failed++
		} else {
			sum.Classified++
		}
		progress.Step(o.Events, "predict", 1)
		return out.write(p)
	})
	progress.Finish(o.Events, "predict")
	if err == nil {
		err = out.close()
	}
	if err == nil && af != nil {
		err = af.Commit(0o644)
	}
	if err != nil {
		return sum, fmt.Errorf("predict: %w", err)
	}
	if sum.Failed > 0 {
		progress.Warn(o.Events, "predict", fmt.Sprintf("%d of %d images could not be classified (their errors are in the output)", sum.Failed, sum.Images))
	}
	if sum.Classified == 0 {
		return sum, fmt.Errorf("none of the %d images could be classified", sum.Images)
	}
	return sum, nil
}

// decoded is one file read and decoded, or why it could not be.
type decoded struct {
	img image.Image
	err error
}

// predictEach decodes files on up to GOMAXPROCS goroutines, a few ahead of
// the model, and calls each with their predictions in file order: decoding
// is what takes the time for a small CNN, and the model runs one image at a
// time anyway.
func predictEach(ctx context.Context, pr *train.Predictor, files []string, k int, each func(Prediction) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The queue holds one result slot per file, in order. A file's decoding
	// starts once its slot is queued, and the consumer holds one more slot,
	// so a capacity of GOMAXPROCS-1 keeps at most GOMAXPROCS decodes (and
	// decoded images) in flight.
	queue := make(chan chan decoded, runtime.GOMAXPROCS(0)-1)
	go func() {
		defer close(queue)
		for _, f := range files {
			slot := make(chan decoded, 1)
			select {
			case queue <- slot:
			case <-ctx.Done():
				return
			}
			go func() { slot <- decodeFile(f) }()
		}
	}()
	i := 0
	for slot := range queue {
		if err := ctx.Err(); err != nil {
			return err
		}
		d := <-slot
		p := Prediction{File: files[i]}
		i++
		if d.err == nil {
			d.err = classify(pr, d.img, k, &p)
		}
		if d.err != nil {
			p.Error = d.err.Error()
		}
		if err := each(p); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func decodeFile(file string) decoded {
	b, err := os.ReadFile(file)
	if err != nil {
		return decoded{err: err}
	}
	img, _, err := imaging.Decode(b, imaging.Limits{})
	return decoded{img, err}
}

func classify(pr *train.Predictor, img image.Image, k int, p *Prediction) error {
	probs, err := pr.Predict(img)
	if err != nil {
		return err
	}
	classes := pr.Meta.Classes
	if len(probs) != len(classes) {
		return fmt.Errorf("the model gave %d probabilities for %d classes", len(probs), len(classes))
	}
	order := make([]int, len(probs))
	for i := range order {
		order[i] = i
	}
	// Stable, so that equal probabilities keep the model's class order.
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case probs[a] > probs[b]:
			return -1
		case probs[a] < probs[b]:
			return 1
		}
		return 0
	})
	for _, i := range order[:k] {
		p.Top = append(p.Top, ClassProb{classes[i], float64(probs[i])})
	}
	p.Class, p.Confidence = p.Top[0].Class, p.Top[0].Probability
	return nil
}

// imageExts are the extensions a folder walk takes without looking inside.
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".webp": true, ".bmp": true, ".tif": true, ".tiff": true}

// ExpandImageArgs turns predict's arguments into files, in argument order
// and each once: a file stays as given (whatever it holds: a broken one is
// reported with its error, not skipped); a folder becomes the image files
// under it, in lexical order, skipping hidden files and folders; anything
// else with *, ? or [ is a glob pattern the shell did not expand (quoted, or
// on Windows). A pattern with no match or a folder with no images is an
// *ArgError.
func ExpandImageArgs(args []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(f string) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	var expand func(arg string, fromGlob bool) error
	expand = func(arg string, fromGlob bool) error {
		st, err := os.Stat(arg)
		switch {
		case err == nil && st.IsDir():
			found, err := imagesUnder(arg)
			if err != nil {
				return err
			}
			if len(found) == 0 && !fromGlob {
				return &ArgError{arg, "no image files in this folder (hidden files are skipped)"}
			}
			for _, f := range found {
				add(f)
			}
			return nil
		case err != nil && !fromGlob && strings.ContainsAny(arg, "*?["):
			matches, gerr := filepath.Glob(arg)
			if gerr != nil {
				return &ArgError{arg, fmt.Sprintf("bad pattern: %v", gerr)}
			}
			matches = slices.DeleteFunc(matches, func(m string) bool { return hiddenMatch(arg, m) })
			if len(matches) == 0 {
				return &ArgError{arg, "matches no file"}
			}
			for _, m := range matches {
				if err := expand(m, true); err != nil {
					return err
				}
			}
			return nil
		}
		// A missing or unreadable file is listed with its error.
		add(arg)
		return nil
	}
	for _, a := range args {
		if err := expand(a, false); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// hiddenMatch reports whether match has a hidden name where pattern has
// none, which a shell's glob would not have matched: Go's * matches a
// leading dot, and .git or .DS_Store are not what a user meant by *.
func hiddenMatch(pattern, match string) bool {
	ps := strings.Split(filepath.Clean(pattern), string(filepath.Separator))
	ms := strings.Split(filepath.Clean(match), string(filepath.Separator))
	if len(ps) != len(ms) {
		return false
	}
	for i := range ms {
		if strings.HasPrefix(ms[i], ".") && !strings.HasPrefix(ps[i], ".") {
			return true
		}
	}
	return false
}

// imagesUnder walks dir for image files: a known image extension, or bytes
// that sniff as an image (cameras and downloads do not always name files).
func imagesUnder(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if imageExts[strings.ToLower(filepath.Ext(path))] || sniffsAsImage(path) {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	return out, nil
}

func sniffsAsImage(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 64)
	n, _ := io.ReadFull(f, head)
	format := imaging.Sniff(head[:n])
	return format != "" && format != "html"
}

// predictionWriter writes predictions in one output format.
type predictionWriter struct {
	format string
	w      io.Writer
	k      int
	csv    *csv.Writer
	all    []Prediction // for "json", which is one array
	header bool
}

func newPredictionWriter(format string, w io.Writer, k int) *predictionWriter {
	pw := &predictionWriter{format: format, w: w, k: k}
	if format == "csv" {
		pw.csv = csv.NewWriter(w)
	}
	return pw
}

// csvHeader is file,class,confidence, then class_N,confidence_N for the
// other top-k places, then error.
func csvHeader(k int) []string {
	h := []string{"file", "class", "confidence"}
	for i := 2; i <= k; i++ {
		h = append(h, "class_"+strconv.Itoa(i), "confidence_"+strconv.Itoa(i))
	}
	return append(h, "error")
}

func (pw *predictionWriter) write(p Prediction) error {
	switch pw.format {
	case "json":
		pw.all = append(pw.all, p)
		return nil
	case "jsonl":
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		_, err = pw.w.Write(append(b, '\n'))
		return err
	case "csv":
		if !pw.header {
			pw.header = true
			if err := pw.csv.Write(csvHeader(pw.k)); err != nil {
				return err
			}
		}
		rec := []string{p.File}
		for i := range pw.k {
			if i < len(p.Top) {
				rec = append(rec, p.Top[i].Class, strconv.FormatFloat(p.Top[i].Probability, 'f', 6, 64))
			} else {
				rec = append(rec, "", "")
			}
		}
		rec = append(rec, p.Error)
		if err := pw.csv.Write(rec); err != nil {
			return err
		}
		// A line at a time, so a pipe sees each image as it is classified.
		pw.csv.Flush()
		return pw.csv.Error()
	}
	var err error
	if p.Error != "" {
		_, err = fmt.Fprintf(pw.w, "%s\terror: %s\n", p.File, p.Error)
		return err
	}
	line := p.File
	for _, c := range p.Top {
		line += fmt.Sprintf("\t%s\t%.3f", c.Class, c.Probability)
	}
	_, err = fmt.Fprintln(pw.w, line)
	return err
}

func (pw *predictionWriter) close() error {
	switch pw.format {
	case "json":
		enc := json.NewEncoder(pw.w)
		enc.SetIndent("", "  ")
		all := pw.all
		if all == nil {
			all = []Prediction{}
		}
		return enc.Encode(all)
	case "csv":
		if !pw.header {
			if err := pw.csv.Write(csvHeader(pw.k)); err != nil {
				return err
			}
		}
		pw.csv.Flush()
		return pw.csv.Error()
	}
	return nil
}
