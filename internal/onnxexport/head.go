package onnxexport

import (
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/scour-dev/scour/internal/nn"
	"github.com/scour-dev/scour/internal/train"
	"github.com/scour-dev/scour/internal/vision"
)

var errNoEmbedding = errors.New("embedding output not found")

// headModel splices the head behind scour's embedded MobileNetV2: the
// zoo model's graph keeps its nodes and initializers (those its embedding
// needs), gains the ImageNet normalisation in front and the L2
// normalisation, head and softmax behind, and loses its own input and
// outputs.
func headModel(meta train.Meta, layers []nn.Layer, opts Options) ([]byte, Info, error) {
	vm := vision.MobileNetV2()
	p := vm.Prep
	if p.BGR || p.Resize < p.Crop {
		return nil, Info{}, fmt.Errorf("embedding model %s: unexpected preprocessing %+v", vm.Name, p)
	}
	const dim = 1280 // MobileNetV2's embedding_1280
	if len(layers) == 0 || layers[0].In.Size() != dim {
		return nil, Info{}, fmt.Errorf("the head does not read the %d-d %s embedding", dim, vm.Name)
	}
	if out := layers[len(layers)-1].Out.Size(); out != len(meta.Classes) {
		return nil, Info{}, fmt.Errorf("the head has %d outputs for %d class names", out, len(meta.Classes))
	}

	var pre graph
	// The graph's input is already v/255, as for a CNN: only the ImageNet
	// mean and std remain, the same float32 (x-mean)/std the model was fed
	// when the head was trained.
	var mean, std []float32
	for c := range 3 {
		mean = append(mean, float32(p.Mean[c]))
		std = append(std, float32(p.Std[c]))
	}
	x := pre.add("Sub", []string{InputName, pre.floats("scour/imagenet_mean", []int64{1, 3, 1, 1}, mean)})
	pre.add("Div", []string{x, pre.floats("scour/imagenet_std", []int64{1, 3, 1, 1}, std)})
	pre.nodes[len(pre.nodes)-1].outputs = []string{vm.Input}

	// post continues pre's numbering so node names stay unique.
	post := graph{seq: pre.seq}
	norm := post.add("ReduceL2", []string{vm.Embedding}, intsAttr("axes", 1), intAttr("keepdims", 1))
	// An all-zero embedding stays zero instead of becoming NaN, as scour's
	// own normalisation does; a real norm (about 10-50) is unchanged in
	// float32. Add, not Max: OpenCV 4.6 cannot read Max with a constant.
	norm = post.add("Add", []string{norm, post.floats("scour/min_norm", nil, []float32{1e-30})})
	// The norm is spread over the embedding's width by a product with a row
	// of ones (exact: norm*1) so that Div sees equal shapes: OpenCV 4.6
	// cannot broadcast [N,1] against the quantized model's [N,1280].
	norm = post.add("MatMul", []string{norm, post.floats("scour/ones", []int64{1, int64(dim)}, ones(dim))})
	emb := post.add("Div", []string{vm.Embedding, norm})
	logits, err := appendLayers(&post, emb, layers)
	if err != nil {
		return nil, Info{}, err
	}
	post.add("Softmax", []string{logits}, intAttr("axis", 1))
	post.nodes[len(post.nodes)-1].outputs = []string{OutputName}

	crop := int64(p.Crop)
	info := Info{
		Kind: "head", Classes: meta.Classes, InputSize: p.Crop, Input: InputName, Output: OutputName,
		Preprocess: fmt.Sprintf("RGB, v/255 in [0,1], NCHW; shorter side resized to %d with PIL-style antialiased bilinear, centre crop %dx%d. "+
			"Inside the graph: (x - mean)/std with ImageNet mean %v and std %v, %s, L2 normalisation of its %d-d embedding, the head",
			p.Resize, p.Crop, p.Crop, mean, std, vm.Name, layers[0].In.Size()),
		Ops: opTypes(append(slices.Clone(pre.nodes), post.nodes...)),
	}

	var m []byte
	var graphSeen bool
	err = eachField(vm.ONNX, func(num protowire.Number, typ protowire.Type, raw, val []byte) error {
		switch num {
		case fModelProducer, fModelProducerVer, fModelDocString, fModelMetadata:
			return nil // replaced below
		case fModelGraph:
			if typ != protowire.BytesType {
				return fmt.Errorf("graph field has wire type %d", typ)
			}
			g, zooOps, err := spliceGraph(val, &pre, &post, vm.Input, vm.Embedding, crop, int64(len(meta.Classes)))
			if err != nil {
				return err
			}
			info.Ops = mergeOps(info.Ops, zooOps)
			m = appendBytes(m, fModelGraph, g)
			graphSeen = true
			return nil
		}
		m = append(m, raw...)
		return nil
	})
	if err == nil && !graphSeen {
		err = fmt.Errorf("no graph")
	}
	if err != nil {
		return nil, Info{}, fmt.Errorf("embedding model %s: %w", vm.Name, err)
	}
	m = appendString(m, fModelProducer, "scour")
	m = appendString(m, fModelProducerVer, version(opts))
	m = appendString(m, fModelDocString, fmt.Sprintf("scour transfer head (%s) on %s: image [N,3,%d,%d] -> probabilities [N,%d]",
		meta.Spec, vm.Name, crop, crop, len(meta.Classes)))
	if m, err = appendMetadata(m, info, opts); err != nil {
		return nil, Info{}, err
	}
	info.Bytes = len(m)
	return m, info, nil
}

// spliceGraph rewrites the embedding model's GraphProto: pre's nodes, then
// the model's nodes that the embedding depends on, then post's; the
// initializers and value_info those nodes use; InputName as the only input
// and OutputName as the only output. It also returns the op types kept.
func spliceGraph(gp []byte, pre, post *graph, input, embedding string, crop, classes int64) ([]byte, []string, error) {
	type item struct {
		raw     []byte
		name    string   // initializer or value_info name
		op      string   // node
		inputs  []string // node
		outputs []string // node
	}
	var nodes, inits, infos []item
	var other [][]byte
	err := eachField(gp, func(num protowire.Number, typ protowire.Type, raw, val []byte) error {
		switch num {
		case fGraphNode:
			it := item{raw: raw}
			err := eachField(val, func(num protowire.Number, _ protowire.Type, _, v []byte) error {
				switch num {
				case fNodeInput:
					it.inputs = append(it.inputs, string(v))
				case fNodeOutput:
					it.outputs = append(it.outputs, string(v))
				case fNodeOpType:
					it.op = string(v)
				}
				return nil
			})
			nodes = append(nodes, it)
			return err
		case fGraphInitializer, fGraphValueInfo:
			it := item{raw: raw}
			nameField := protowire.Number(fTensorName)
			if num == fGraphValueInfo {
				nameField = fValueInfoName
			}
			err := eachField(val, func(n protowire.Number, _ protowire.Type, _, v []byte) error {
				if n == nameField {
					it.name = string(v)
				}
				return nil
			})
			if num == fGraphInitializer {
				inits = append(inits, it)
			} else {
				infos = append(infos, it)
			}
			return err
		case fGraphInput, fGraphOutput:
			// Replaced: the zoo model's input is now computed by pre, and
			// its outputs by post. (Initializers listed as inputs by old
			// exporters need no input entry in IR >= 4.)
			return nil
		}
		other = append(other, raw)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}

	need := map[string]bool{embedding: true}
	keep := make([]bool, len(nodes))
	found := false
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		if !slices.ContainsFunc(n.outputs, func(o string) bool { return need[o] }) {
			continue
		}
		if slices.Contains(n.outputs, embedding) {
			found = true
		}
		keep[i] = true
		for _, in := range n.inputs {
			need[in] = true
		}
	}
	if !found {
		return nil, nil, fmt.Errorf("%w: no node computes %q", errNoEmbedding, embedding)
	}
	if !need[input] {
		return nil, nil, fmt.Errorf("the embedding %q does not depend on the input %q", embedding, input)
	}

	var b []byte
	for _, raw := range other {
		b = append(b, raw...)
	}
	for _, n := range pre.nodes {
		b = appendBytes(b, fGraphNode, n.encode())
	}
	var ops []string
	for i, n := range nodes {
		if keep[i] {
			b = append(b, n.raw...)
			ops = append(ops, n.op)
		}
	}
	for _, n := range post.nodes {
		b = appendBytes(b, fGraphNode, n.encode())
	}
	for _, t := range inits {
		if need[t.name] {
			b = append(b, t.raw...)
		}
	}
	for _, t := range append(slices.Clone(pre.inits), post.inits...) {
		b = appendBytes(b, fGraphInitializer, t.encode())
	}
	b = appendBytes(b, fGraphInput, valueInfo(InputName, -1, 3, crop, crop))
	b = appendBytes(b, fGraphOutput, valueInfo(OutputName, -1, classes))
	for _, v := range infos {
		if need[v.name] {
			b = append(b, v.raw...)
		}
	}
	return b, ops, nil
}

// eachField calls fn with every top-level field of the message b: its
// number, wire type, the whole encoded field, and for length-delimited
// fields the payload.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, raw, val []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("malformed protobuf: %w", protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return fmt.Errorf("malformed protobuf field %d: %w", num, protowire.ParseError(m))
		}
		var val []byte
		if typ == protowire.BytesType {
			v, k := protowire.ConsumeBytes(b[n:])
			if k < 0 {
				return fmt.Errorf("malformed protobuf field %d: %w", num, protowire.ParseError(k))
			}
			val = v
		}
		if err := fn(num, typ, b[:n+m], val); err != nil {
			return err
		}
		b = b[n+m:]
	}
	return nil
}

func mergeOps(a, b []string) []string {
	for _, op := range b {
		if !slices.Contains(a, op) {
			a = append(a, op)
		}
	}
	slices.Sort(a)
	return a
}

func ones(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = 1
	}
	return v
}
