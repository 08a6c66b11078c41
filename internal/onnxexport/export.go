// Package onnxexport writes a trained scour model as one ONNX file that any
// ONNX runtime can run without scour: image in, class probabilities out.
//
// The exported graph's input is "image", float32 NCHW [N,3,S,S]: RGB with
// values v/255 in [0,1], at the model's input size S. Its output is
// "probabilities", float32 [N,classes] (a softmax). A CNN becomes a plain
// graph of Conv, BatchNormalization, Relu, MaxPool, GlobalAveragePool,
// Flatten, Gemm and Softmax. A transfer head becomes one graph with the
// embedding model (the MobileNetV2 int8 model scour embeds) in front of it:
// ImageNet mean/std normalisation, the network, L2 normalisation of the
// 1280-d embedding, the head's dense layers, softmax. Class names, input size
// and the preprocessing go into the model's metadata_props.
package onnxexport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strconv"

	"github.com/scour-dev/scour/internal/atomicfile"
	"github.com/scour-dev/scour/internal/nn"
	"github.com/scour-dev/scour/internal/train"
	"github.com/scour-dev/scour/internal/vision"
)

// Names of the exported graph's input and output.
const (
	InputName  = "image"
	OutputName = "probabilities"
)

// Options tune an export; zero values pick the defaults.
type Options struct {
	// Version is recorded as scour_version; default: the module version
	// from the build information, or "devel".
	Version string
}

// Info describes an exported model.
type Info struct {
	Kind       string   `json:"kind"` // "cnn" or "head"
	Classes    []string `json:"classes"`
	InputSize  int      `json:"input_size"`
	Input      string   `json:"input"`  // float32 [N,3,InputSize,InputSize]
	Output     string   `json:"output"` // float32 [N,len(Classes)]
	Preprocess string   `json:"preprocess"`
	Ops        []string `json:"ops"` // ONNX operator types the graph uses, sorted
	Bytes      int      `json:"bytes"`
}

// Export reads the model file at modelPath (written by `scour train`) and
// writes it to w as ONNX.
func Export(modelPath string, w io.Writer, opts Options) (Info, error) {
	meta, _, err := train.ReadModelFile(modelPath)
	if err != nil {
		return Info{}, err
	}
	var info Info
	var data []byte
	switch meta.Kind {
	case "cnn":
		meta, m, err := train.LoadCNN(modelPath)
		if err != nil {
			return Info{}, err
		}
		data, info, err = cnnModel(meta, m.Input(), m.Layers(), opts)
		if err != nil {
			return Info{}, fmt.Errorf("export %s: %w", modelPath, err)
		}
	case "head":
		meta, layers, err := readHead(modelPath)
		if err != nil {
			return Info{}, err
		}
		data, info, err = headModel(meta, layers, opts)
		if err != nil {
			return Info{}, fmt.Errorf("export %s: %w", modelPath, err)
		}
	default:
		return Info{}, fmt.Errorf("%s: %w: unknown model kind %q (this scour exports cnn and head models)", modelPath, train.ErrModelFile, meta.Kind)
	}
	if _, err := w.Write(data); err != nil {
		return Info{}, fmt.Errorf("export %s: writing ONNX: %w", modelPath, err)
	}
	return info, nil
}

// ExportFile is Export to the file outPath, written through a temporary
// file and a rename: a failed export leaves an existing outPath as it was.
func ExportFile(modelPath, outPath string, opts Options) (Info, error) {
	var buf bytes.Buffer
	info, err := Export(modelPath, &buf, opts)
	if err != nil {
		return Info{}, err
	}
	if err := atomicfile.WriteFile(outPath, buf.Bytes()); err != nil {
		return Info{}, fmt.Errorf("export: writing %s: %w", outPath, err)
	}
	return info, nil
}

// readHead reads a head model file as the layers that map the
// L2-normalised embedding to logits: a head is saved as a plain nn model of
// dense layers over the raw embedding, its standardisation folded into the
// first layer, so its layers are the graph.
func readHead(path string) (train.Meta, []nn.Layer, error) {
	meta, h, err := train.LoadHead(path)
	if err != nil {
		return meta, nil, err
	}
	if want := "local/" + vision.MobileNetV2().Name; meta.Preprocess != want {
		return meta, nil, fmt.Errorf("%s: trained on %s embeddings; this scour exports heads on %s", path, meta.Preprocess, want)
	}
	return meta, h.Layers(), nil
}

func cnnModel(meta train.Meta, in nn.Shape, layers []nn.Layer, opts Options) ([]byte, Info, error) {
	if in.C != 3 || in.H != meta.Size || in.W != meta.Size {
		return nil, Info{}, fmt.Errorf("network input %v does not match the %dx%d RGB images the metadata describes", in, meta.Size, meta.Size)
	}
	if meta.Preprocess != "rgb/255" {
		return nil, Info{}, fmt.Errorf("the model expects %q inputs; this scour exports rgb/255 CNNs", meta.Preprocess)
	}
	var g graph
	logits, err := appendLayers(&g, InputName, layers)
	if err != nil {
		return nil, Info{}, err
	}
	g.add("Softmax", []string{logits}, intAttr("axis", 1))
	g.nodes[len(g.nodes)-1].outputs = []string{OutputName}

	s := int64(meta.Size)
	gb := appendString(nil, fGraphName, "scour-cnn")
	for _, n := range g.nodes {
		gb = appendBytes(gb, fGraphNode, n.encode())
	}
	for _, t := range g.inits {
		gb = appendBytes(gb, fGraphInitializer, t.encode())
	}
	gb = appendBytes(gb, fGraphInput, valueInfo(InputName, -1, 3, s, s))
	gb = appendBytes(gb, fGraphOutput, valueInfo(OutputName, -1, int64(len(meta.Classes))))

	info := Info{
		Kind: "cnn", Classes: meta.Classes, InputSize: meta.Size, Input: InputName, Output: OutputName,
		Preprocess: fmt.Sprintf("RGB, v/255 in [0,1], NCHW; the whole image resized to %dx%d (no crop) with PIL-style antialiased bilinear", meta.Size, meta.Size),
		Ops:        opTypes(g.nodes),
	}
	var m []byte
	m = appendVarint(m, fModelIRVersion, irVersion)
	m = appendString(m, fModelProducer, "scour")
	m = appendString(m, fModelProducerVer, version(opts))
	m = appendString(m, fModelDocString, fmt.Sprintf("scour CNN %s: image [N,3,%d,%d] -> probabilities [N,%d]", meta.Spec, s, s, len(meta.Classes)))
	m = appendBytes(m, fModelGraph, gb)
	m = appendBytes(m, fModelOpset, opset("", opsetVersion))
	m, err = appendMetadata(m, info, opts)
	if err != nil {
		return nil, Info{}, err
	}
	info.Bytes = len(m)
	return m, info, nil
}

func opset(domain string, v int) []byte {
	b := appendString(nil, fOpsetDomain, domain)
	return appendVarint(b, fOpsetVersion, uint64(v))
}

func appendMetadata(m []byte, info Info, opts Options) ([]byte, error) {
	classes, err := json.Marshal(info.Classes)
	if err != nil {
		return nil, err
	}
	for _, kv := range [][2]string{
		{"classes", string(classes)},
		{"input_size", strconv.Itoa(info.InputSize)},
		{"layout", "NCHW"},
		{"input", InputName},
		{"output", OutputName},
		{"preprocess", info.Preprocess},
		{"scour_kind", info.Kind},
		{"scour_version", version(opts)},
	} {
		e := appendString(nil, fStringEntryKey, kv[0])
		e = appendString(e, fStringEntryValue, kv[1])
		m = appendBytes(m, fModelMetadata, e)
	}
	return m, nil
}

func version(opts Options) string {
	if opts.Version != "" {
		return opts.Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func opTypes(nodes []node) []string {
	var ops []string
	for _, n := range nodes {
		if !slices.Contains(ops, n.op) {
			ops = append(ops, n.op)
		}
	}
	slices.Sort(ops)
	return ops
}
