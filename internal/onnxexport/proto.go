package onnxexport

import (
	"encoding/binary"
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// The few ONNX messages the exporter writes, encoded by hand with protowire:
// onnx.proto is stable and small, and generated bindings would add a large
// package for a dozen fields. Field numbers are those of onnx.proto (IR 7).
const (
	// ModelProto
	fModelIRVersion   = 1
	fModelProducer    = 2
	fModelProducerVer = 3
	fModelDocString   = 6
	fModelGraph       = 7
	fModelOpset       = 8
	fModelMetadata    = 14
	fOpsetDomain      = 1
	fOpsetVersion     = 2
	fStringEntryKey   = 1
	fStringEntryValue = 2
	fGraphNode        = 1
	fGraphName        = 2
	fGraphInitializer = 5
	fGraphInput       = 11
	fGraphOutput      = 12
	fGraphValueInfo   = 13
	fNodeInput        = 1
	fNodeOutput       = 2
	fNodeName         = 3
	fNodeOpType       = 4
	fNodeAttribute    = 5
	fAttrName         = 1
	fAttrF            = 2
	fAttrI            = 3
	fAttrInts         = 8
	fAttrType         = 20
	fTensorDims       = 1
	fTensorDataType   = 2
	fTensorName       = 8
	fTensorRawData    = 9
	fValueInfoName    = 1
	fValueInfoType    = 2
	fTypeTensor       = 1
	fTypeTensorElem   = 1
	fTypeTensorShape  = 2
	fShapeDim         = 1
	fDimValue         = 1
	fDimParam         = 2
	attrFloat         = 1
	attrInt           = 2
	attrInts          = 7
	tensorFloat       = 1
	irVersion         = 7
	opsetVersion      = 12
)

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// attr is a node attribute: exactly one of its values is used, by kind.
type attr struct {
	name string
	kind int
	i    int64
	f    float32
	ints []int64
}

func intAttr(name string, v int64) attr     { return attr{name: name, kind: attrInt, i: v} }
func floatAttr(name string, v float32) attr { return attr{name: name, kind: attrFloat, f: v} }
func intsAttr(name string, v ...int64) attr { return attr{name: name, kind: attrInts, ints: v} }

func (a attr) encode() []byte {
	b := appendString(nil, fAttrName, a.name)
	switch a.kind {
	case attrInt:
		b = appendVarint(b, fAttrI, uint64(a.i))
	case attrFloat:
		b = protowire.AppendTag(b, fAttrF, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.f))
	case attrInts:
		for _, v := range a.ints {
			b = appendVarint(b, fAttrInts, uint64(v))
		}
	}
	return appendVarint(b, fAttrType, uint64(a.kind))
}

type node struct {
	op      string
	name    string
	inputs  []string
	outputs []string
	attrs   []attr
}

func (n node) encode() []byte {
	var b []byte
	for _, s := range n.inputs {
		b = appendString(b, fNodeInput, s)
	}
	for _, s := range n.outputs {
		b = appendString(b, fNodeOutput, s)
	}
	b = appendString(b, fNodeName, n.name)
	b = appendString(b, fNodeOpType, n.op)
	for _, a := range n.attrs {
		b = appendBytes(b, fNodeAttribute, a.encode())
	}
	return b
}

// tensor is an initializer: float32 data, stored as raw little-endian
// bytes.
type tensor struct {
	name string
	dims []int64
	f32  []float32
}

func (t tensor) encode() []byte {
	var b []byte
	for _, d := range t.dims {
		b = appendVarint(b, fTensorDims, uint64(d))
	}
	b = appendVarint(b, fTensorDataType, tensorFloat)
	raw := make([]byte, 0, 4*len(t.f32))
	for _, v := range t.f32 {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	b = appendString(b, fTensorName, t.name)
	return appendBytes(b, fTensorRawData, raw)
}

// valueInfo declares a float32 graph input or output; a dim < 0 is the
// symbolic batch dimension "N".
func valueInfo(name string, dims ...int64) []byte {
	var shape []byte
	for _, d := range dims {
		var dim []byte
		if d < 0 {
			dim = appendString(nil, fDimParam, "N")
		} else {
			dim = appendVarint(nil, fDimValue, uint64(d))
		}
		shape = appendBytes(shape, fShapeDim, dim)
	}
	tt := appendVarint(nil, fTypeTensorElem, tensorFloat)
	tt = appendBytes(tt, fTypeTensorShape, shape)
	typ := appendBytes(nil, fTypeTensor, tt)
	b := appendString(nil, fValueInfoName, name)
	return appendBytes(b, fValueInfoType, typ)
}

// graph collects nodes and initializers in the order they are added.
type graph struct {
	nodes []node
	inits []tensor
	seq   int
}

// add appends a node with one output named after it and returns the output.
func (g *graph) add(op string, inputs []string, attrs ...attr) string {
	g.seq++
	name := "scour/" + op + "_" + strconv.Itoa(g.seq)
	g.nodes = append(g.nodes, node{op: op, name: name, inputs: inputs, outputs: []string{name}, attrs: attrs})
	return name
}

func (g *graph) floats(name string, dims []int64, v []float32) string {
	g.inits = append(g.inits, tensor{name: name, dims: dims, f32: v})
	return name
}
