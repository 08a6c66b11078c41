package clean

import (
	"context"
	"fmt"
	"slices"

	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/vision"
)

// flushEvery is how many new measurements and labels are written per
// transaction while the pipeline runs; an interrupted run keeps them.
const flushEvery = 256

// read fills each item's measurements and labels, from the cache or by
// reading the image.
func (r *runner) read(ctx context.Context, items []*item) error {
	cat := r.o.Catalog
	measures, err := loadMeasures(ctx, cat, r.cfg.MaxPixels)
	if err != nil {
		return err
	}
	labeler := r.o.Labeler
	if r.labelErr != nil || !r.wantsFeatures() {
		labeler = nil
	}
	feats := map[string]features{}
	if labeler != nil {
		if feats, err = loadFeatures(ctx, cat, r.model); err != nil {
			return err
		}
	}
	var jobs []job
	for _, it := range items {
		if m, ok := measures[it.img.SHA256]; ok {
			it.m = &m
		}
		if f, ok := feats[it.img.SHA256]; ok {
			it.f = &f
		}
		j := job{it: it, needMeasure: it.m == nil,
			needFeatures: labeler != nil && it.f == nil && (it.m == nil || it.m.Broken == "")}
		if j.needMeasure || j.needFeatures {
			jobs = append(jobs, j)
		}
	}

	newMeasures, newFeatures := map[string]Measure{}, map[string]features{}
	flush := func() error {
		if len(newMeasures) > 0 {
			if err := saveMeasures(ctx, cat, r.cfg.MaxPixels, newMeasures); err != nil {
				return err
			}
			clear(newMeasures)
		}
		if len(newFeatures) > 0 {
			if err := saveFeatures(ctx, cat, r.model, newFeatures); err != nil {
				return err
			}
			clear(newFeatures)
		}
		return nil
	}
	var refused int
	var firstRefusal error
	p := &pipeline{store: r.o.Store, labeler: labeler, maxPixels: r.cfg.MaxPixels, batch: r.cfg.OffTopic.BatchSize}
	progress.Start(r.events, stage, int64(len(jobs)))
	err = p.run(ctx, jobs, func(d done) error {
		progress.Step(r.events, stage, 1)
		it, sha := d.it, d.it.img.SHA256
		switch {
		case d.missing:
			it.missing = true
			r.sum.Missing = append(r.sum.Missing, sha)
			r.warn(fmt.Sprintf("image %s: its bytes are not in the store at %s; left as it is", sha, it.img.Key))
			return nil
		case d.problem != "":
			it.missing = true
			r.sum.Skipped = append(r.sum.Skipped, Skipped{SHA256: sha, Problem: d.problem})
			r.warn(fmt.Sprintf("image %s left alone: %s", sha, d.problem))
			return nil
		}
		if d.measure != nil {
			it.m = d.measure
			newMeasures[sha] = *d.measure
			r.sum.Measured++
		}
		if d.features != nil {
			it.f = d.features
			newFeatures[sha] = *d.features
			r.sum.Labelled++
		}
		if d.labelErr != nil {
			if refused++; firstRefusal == nil {
				firstRefusal = d.labelErr
			}
		}
		if len(newMeasures)+len(newFeatures) >= flushEvery {
			return flush()
		}
		return nil
	})
	progress.Finish(r.events, stage)
	if ferr := flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	if e := p.labelError(); e != nil {
		r.labelErr = e
	}
	if refused > 0 {
		r.warn(fmt.Sprintf("the labeler refused %d images (the first: %v); they are not judged off-topic", refused, firstRefusal))
	}
	return nil
}

// wantsFeatures says whether any check needs the labeler.
func (r *runner) wantsFeatures() bool {
	if r.cfg.enabled(ReasonDuplicate) && r.cfg.Duplicates.MinCosine > 0 {
		return true
	}
	if !r.cfg.enabled(ReasonOffTopic) {
		return false
	}
	if r.cfg.OffTopic.Method != MethodOff {
		return true
	}
	for _, c := range r.classes {
		if c.Method != "" && c.Method != MethodOff {
			return true
		}
	}
	return false
}

func (it *item) flag(f Flag) {
	f.SHA256 = it.img.SHA256
	it.flags[f.Reason] = f
}

// usable says whether an item was read and decoded.
func (it *item) usable() bool { return !it.missing && it.m != nil && it.m.Broken == "" }

// checkPixels runs the broken check and every pixel Check.
func (r *runner) checkPixels(items []*item) {
	checks := Checks(r.cfg)
	for _, it := range items {
		if it.missing || it.m == nil {
			continue
		}
		m := it.m
		if m.Broken == "" && int64(m.Width)*int64(m.Height) > r.cfg.MaxPixels {
			// Measured under a higher limit than today's.
			m = &Measure{Broken: tooManyPixels, BrokenMsg: fmt.Sprintf("%dx%d is over max_pixels %d", m.Width, m.Height, r.cfg.MaxPixels)}
			it.m = m
		}
		if m.Broken != "" {
			if r.cfg.enabled(ReasonBroken) {
				it.flag(Flag{Reason: ReasonBroken, Method: m.Broken, Detail: m.BrokenMsg})
			}
			continue
		}
		for _, c := range checks {
			if score, bad := c.Test(*m); bad {
				it.flag(Flag{Reason: c.Reason(), Score: score})
			}
		}
	}
}

// groupRow is one image's membership of a duplicate group.
type groupRow struct {
	sha, group, kind string
}

// dedup groups copies of the same picture and flags all but the copy kept
// (or, when a group spans classes, all of them as cross-class: which class
// is right is for a person to say).
func (r *runner) dedup(ctx context.Context, items []*item) ([]groupRow, error) {
	var dis []dupItem
	var its []*item
	for _, it := range items {
		if !it.usable() {
			continue
		}
		it.dedupJudged = true
		di := dupItem{sha: it.img.SHA256, class: it.img.Class, pixelHash: it.m.PixelHash, fetchedAt: it.img.FetchedAt,
			phash: it.m.PHash, pixels: int64(it.m.Width) * int64(it.m.Height),
			keep: it.decision == DecisionKeep, flagged: len(it.flags) > 0}
		if it.f != nil {
			di.emb = it.f.Embedding
		}
		dis = append(dis, di)
		its = append(its, it)
	}
	if !r.cfg.enabled(ReasonDuplicate) && !r.cfg.enabled(ReasonCrossClass) {
		return nil, nil
	}
	groups, err := findDuplicates(ctx, dis, r.cfg.Duplicates)
	if err != nil {
		return nil, err
	}
	r.sum.Groups = len(groups)
	var rows []groupRow
	for _, g := range groups {
		kept := dis[g.kept]
		cross := len(g.classes) > 1 && r.cfg.enabled(ReasonCrossClass)
		for _, m := range g.members {
			it, di := its[m], dis[m]
			kind := "near"
			switch {
			case m == g.kept:
				kind = "kept"
			case g.link[m] == linkExact:
				kind = "exact"
			}
			rows = append(rows, groupRow{di.sha, kept.sha, kind})
			dist := float64(imaging.Hamming(di.phash, kept.phash))
			switch {
			case cross:
				it.flag(Flag{Reason: ReasonCrossClass, Score: float64(len(g.classes)), Method: g.link[m],
					Detail: fmt.Sprintf("group %s spans %v", kept.sha, g.classes)})
			case m != g.kept && r.cfg.enabled(ReasonDuplicate):
				it.flag(Flag{Reason: ReasonDuplicate, Score: dist, Method: g.link[m], Detail: kept.sha})
			}
		}
	}
	return rows, nil
}

// offTopic runs each class's off-topic method.
func (r *runner) offTopic(items []*item) {
	byClass := map[string][]*item{}
	var names []string
	for _, it := range items {
		if !it.usable() {
			continue
		}
		if byClass[it.img.Class] == nil {
			names = append(names, it.img.Class)
		}
		byClass[it.img.Class] = append(byClass[it.img.Class], it)
	}
	slices.Sort(names)
	var project []string // classes judged by the project method, together
	var whyNot string
	switch {
	case !r.cfg.enabled(ReasonOffTopic):
	case r.o.Labeler == nil:
		whyNot = "no labeler is available (install ONNX Runtime with .ci/onnxruntime.sh or set SCOUR_ONNXRUNTIME_LIB, or configure a cloud labeler)"
	case r.labelErr != nil:
		whyNot = fmt.Sprintf("the labeler %s failed: %v", r.model, r.labelErr)
	}
	if whyNot != "" {
		r.warn("off-topic check skipped: " + whyNot + "; the other checks ran")
	}
	for _, name := range names {
		cs := r.class(name)
		c, ok := r.classes[name]
		if !ok {
			c = Class{Name: name}
		}
		method := r.methodFor(c)
		if !r.cfg.enabled(ReasonOffTopic) {
			method = MethodOff
		}
		cs.OffTopic.Method = method
		cs.OffTopic.References = len(r.refs[name])
		if method == MethodOff {
			for _, it := range byClass[name] {
				it.offTopicJudged = true // nothing flags them, and that is the answer
			}
			continue
		}
		if whyNot != "" {
			cs.OffTopic.Skipped = whyNot
			continue
		}
		if r.judgeClass(cs, method, len(c.References), r.refs[name], byClass[name]) {
			project = append(project, name)
		}
		if cs.OffTopic.Skipped != "" {
			r.note(fmt.Sprintf("class %q: off-topic check skipped: %s", name, cs.OffTopic.Skipped))
		}
	}
	if whyNot == "" {
		r.judgeProject(project, names, byClass)
	}
	r.judgeMisfiled(names, byClass)
}

// judgeClass applies one method to the labelled images of a class; refs
// are the labelled ones of its asked-for references. It returns true for
// the project method, which judges all its classes at once afterwards.
func (r *runner) judgeClass(cs *ClassSummary, method string, asked int, refs []features, all []*item) (project bool) {
	o := r.cfg.OffTopic
	var pool []*item
	var embs [][]float32
	for _, it := range all {
		if it.f == nil {
			continue
		}
		pool = append(pool, it)
		if it.f.Embedding != nil {
			embs = append(embs, it.f.Embedding)
		}
	}
	var refEmbs [][]float32
	for _, f := range refs {
		if f.Embedding != nil {
			refEmbs = append(refEmbs, f.Embedding)
		}
	}
	if method == MethodAuto {
		switch {
		case len(refs) > 0 && len(refEmbs) == 0:
			method = MethodLabels // a labeler without embeddings, such as a cloud API
		default:
			// References, when there are any, join the project's picture
			// (project.go): measured on noisy-web, precision/recall 0.96/0.94
			// against 0.90/0.72 for the reference method.
			method = MethodProject
		}
		cs.OffTopic.Method = method
	}
	if method == MethodProject {
		return true
	}
	switch {
	case (method == MethodLabels || method == MethodReference) && asked == 0:
		cs.OffTopic.Skipped = fmt.Sprintf("the %s method needs reference images", method)
		return false
	case (method == MethodLabels || method == MethodReference) && len(refs) == 0:
		cs.OffTopic.Skipped = "none of the reference images could be labelled"
		return false
	case method == MethodReference && len(refEmbs) == 0,
		method != MethodLabels && len(embs) != len(pool):
		cs.OffTopic.Skipped = fmt.Sprintf("the %s method needs embeddings, which labeler %s does not give", method, r.model)
		return false
	case method != MethodLabels && len(pool) < o.MinImages:
		cs.OffTopic.Skipped = fmt.Sprintf("%d labelled images are too few for the %s method (min_images: %d)", len(pool), method, o.MinImages)
		return false
	}

	if method == MethodLabels {
		want := map[string]bool{}
		for _, f := range refs {
			for _, n := range topNames(f.Labels, o.TopK) {
				want[n] = true
			}
		}
		for _, it := range pool {
			it.offTopicJudged = true
			if shared := sharedLabels(it.f.Labels, o.TopK, want); shared == 0 {
				it.flag(Flag{Reason: ReasonOffTopic, Score: 0, Method: MethodLabels,
					Detail: "none of the references' labels; its own: " + describeLabels(it.f.Labels, o.TopK)})
				it.score.OffTopic = 1
			}
			it.score.OffTopicThreshold, it.score.OffTopicMethod = 1, MethodLabels
		}
		return false
	}

	var scores []float64
	if method == MethodReference {
		scores = centroidScores(embs, refEmbs)
	} else {
		scores = neighbourScores(embs, o.Neighbours)
	}
	st := robustStats(scores)
	cs.OffTopic.Median, cs.OffTopic.Sigma, cs.OffTopic.Threshold = st.Median, st.Sigma, st.threshold(o.MaxZ)
	// The reference method's second view: what the model says is in the
	// picture. Measured with `scour bench clean --class` (README), the two
	// views together find junk that either alone misses.
	var overlap []float64
	if method == MethodReference && o.MinLabelOverlap > 0 {
		labels := make([][]vision.Label, len(pool))
		for i, it := range pool {
			labels[i] = it.f.Labels
		}
		refLabels := make([][]vision.Label, len(refs))
		for i, f := range refs {
			refLabels[i] = f.Labels
		}
		overlap = labelScores(labels, refLabels)
		cs.OffTopic.LabelMedian = median(overlap)
		cs.OffTopic.LabelThreshold = o.MinLabelOverlap * cs.OffTopic.LabelMedian
	}
	for i, it := range pool {
		it.offTopicJudged = true
		z := st.z(scores[i])
		// The doubt on one scale for both views: -z, or the label view's
		// shortfall scaled so that its threshold also lands on MaxZ.
		it.score.OffTopic, it.score.OffTopicThreshold, it.score.OffTopicMethod = -z, o.MaxZ, method
		if overlap != nil && cs.OffTopic.LabelThreshold > 0 {
			it.score.OffTopic = max(-z, o.MaxZ*cs.OffTopic.LabelThreshold/max(overlap[i], 1e-6))
		}
		switch {
		case z < -o.MaxZ:
			it.flag(Flag{Reason: ReasonOffTopic, Score: z, Method: method,
				Detail: fmt.Sprintf("similarity %.3f, below the class's threshold %.3f", scores[i], cs.OffTopic.Threshold)})
		case overlap != nil && overlap[i] < cs.OffTopic.LabelThreshold:
			it.flag(Flag{Reason: ReasonOffTopic, Score: z, Method: method,
				Detail: fmt.Sprintf("label overlap %.3f, below %g of the class's median %.3f; its labels: %s",
					overlap[i], o.MinLabelOverlap, cs.OffTopic.LabelMedian, describeLabels(it.f.Labels, o.TopK))})
		}
	}
	return false
}
