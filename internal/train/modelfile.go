package train

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/scour-dev/scour/internal/atomicfile"
	"github.com/scour-dev/scour/internal/nn"
)

// A model file is everything `scour predict` needs, in one file:
//
//	"SCOURMDL" | u32 version | u32 len | JSON Meta | u32 crc32(JSON) | nn model record
//
// The nn record carries its own checksum. Bump fileVersion when the meaning
// changes; older files are then refused with a message that names both
// versions instead of predicting nonsense. Version 2 made the head an nn
// model on raw embeddings (version 1 heads had their own payload); CNN
// files did not change, so version 1 CNNs still load.
const (
	fileMagic   = "SCOURMDL"
	fileVersion = 2
)

// ErrModelFile marks files that are not scour models, are damaged, or come
// from another format version.
var ErrModelFile = errors.New("not a usable scour model file")

// Meta describes a saved model.
type Meta struct {
	Kind    string   `json:"kind"` // "cnn" or "head"
	Classes []string `json:"classes"`
	Size    int      `json:"input_size"` // images are resized to Size x Size
	// Preprocess says how pixels become inputs: "rgb/255" (CNN) or the
	// embedding model's name (head).
	Preprocess string  `json:"preprocess"`
	Spec       string  `json:"spec,omitempty"`
	Epoch      int     `json:"epoch,omitempty"`
	ValAcc     float64 `json:"val_acc"`
}

// SaveModelFile writes meta and the payload (an nn model) to path
// atomically.
func SaveModelFile(path string, meta Meta, payload func(io.Writer) error) error {
	js, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.WriteString(fileMagic)
	binary.Write(&buf, binary.LittleEndian, uint32(fileVersion))
	binary.Write(&buf, binary.LittleEndian, uint32(len(js)))
	buf.Write(js)
	binary.Write(&buf, binary.LittleEndian, crc32.ChecksumIEEE(js))
	if err := payload(&buf); err != nil {
		return err
	}
	return writeAtomic(path, buf.Bytes())
}

// ReadModelFile reads a model file's metadata and returns a reader
// positioned at its payload.
func ReadModelFile(path string) (Meta, io.Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return Meta{}, nil, err
	}
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return Meta{}, nil, err
	}
	bad := func(format string, args ...any) (Meta, io.Reader, error) {
		return Meta{}, nil, fmt.Errorf("%s: %w: %s", path, ErrModelFile, fmt.Sprintf(format, args...))
	}
	if len(data) < 16 || string(data[:8]) != fileMagic {
		return bad("it does not start like a scour model (was it written by `scour train`?)")
	}
	ver := binary.LittleEndian.Uint32(data[8:])
	wrongVersion := func() (Meta, io.Reader, error) {
		return bad("format version %d, this scour reads version %d: retrain, or use the scour that wrote it", ver, fileVersion)
	}
	if ver != fileVersion && ver != 1 {
		return wrongVersion()
	}
	n := int(binary.LittleEndian.Uint32(data[12:]))
	if 16+n+4 > len(data) {
		return bad("truncated")
	}
	js := data[16 : 16+n]
	if crc32.ChecksumIEEE(js) != binary.LittleEndian.Uint32(data[16+n:]) {
		return bad("checksum mismatch: the file is damaged")
	}
	var m Meta
	if err := json.Unmarshal(js, &m); err != nil {
		return bad("metadata: %v", err)
	}
	if ver == 1 && m.Kind != "cnn" {
		return wrongVersion()
	}
	return m, bytes.NewReader(data[16+n+4:]), nil
}

// LoadCNN reads a CNN model file.
func LoadCNN(path string) (Meta, *nn.Model, error) {
	return loadNN(path, "cnn")
}

// loadNN reads a model file of the given kind, whose payload is an nn model.
func loadNN(path, kind string) (Meta, *nn.Model, error) {
	meta, r, err := ReadModelFile(path)
	if err != nil {
		return meta, nil, err
	}
	if meta.Kind != kind {
		want := map[string]string{"cnn": "CNN"}[kind]
		if want == "" {
			want = kind
		}
		return meta, nil, fmt.Errorf("%s: a %s model, not a %s", path, meta.Kind, want)
	}
	m, err := nn.Load(bufio.NewReader(r))
	if err != nil {
		return meta, nil, fmt.Errorf("%s: %w: %w", path, ErrModelFile, err)
	}
	if m.Classes() != len(meta.Classes) {
		return meta, nil, fmt.Errorf("%s: %w: %d class names for a %d-class network", path, ErrModelFile, len(meta.Classes), m.Classes())
	}
	return meta, m, nil
}

// writeAtomic writes data to path so that a kill never leaves a
// half-written checkpoint or model.
func writeAtomic(path string, data []byte) error { return atomicfile.WriteFile(path, data) }
