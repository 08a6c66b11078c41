package nn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// File layout shared by models and optimizer states:
//
//	magic [8]byte | version uint32 | payload length uint64 | payload | CRC-32C of payload uint32
//
// all little-endian. Readers consume exactly one record, so a model and its
// optimizer state can follow each other in one stream (a checkpoint).
const (
	modelMagic   = "SCOURNN\x00"
	optimMagic   = "SCOUROP\x00"
	modelVersion = 1
	optimVersion = 1
	maxPayload   = 4 << 30
)

// ErrFormat reports a file that is not a scour model or optimizer state,
// is damaged, or comes from an incompatible version.
var ErrFormat = errors.New("bad model file")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func writeRecord(w io.Writer, magic string, version uint32, payload []byte) error {
	var hdr [20]byte
	copy(hdr[:8], magic)
	binary.LittleEndian.PutUint32(hdr[8:], version)
	binary.LittleEndian.PutUint64(hdr[12:], uint64(len(payload)))
	var tail [4]byte
	binary.LittleEndian.PutUint32(tail[:], crc32.Checksum(payload, castagnoli))
	for _, b := range [][]byte{hdr[:], payload, tail[:]} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func readRecord(r io.Reader, magic, what string, version uint32) ([]byte, error) {
	var hdr [20]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: reading %s header: %w", ErrFormat, what, err)
	}
	if string(hdr[:8]) != magic {
		return nil, fmt.Errorf("%w: not a scour %s (magic %q)", ErrFormat, what, hdr[:8])
	}
	if v := binary.LittleEndian.Uint32(hdr[8:]); v != version {
		return nil, fmt.Errorf("%w: %s format version %d; this build reads version %d", ErrFormat, what, v, version)
	}
	n := binary.LittleEndian.Uint64(hdr[12:])
	if n > maxPayload {
		return nil, fmt.Errorf("%w: %s claims %d bytes", ErrFormat, what, n)
	}
	// Grow the buffer as data arrives rather than trusting the length.
	var buf bytes.Buffer
	if _, err := io.CopyN(&buf, r, int64(n)); err != nil {
		return nil, fmt.Errorf("%w: %s truncated: %w", ErrFormat, what, err)
	}
	var tail [4]byte
	if _, err := io.ReadFull(r, tail[:]); err != nil {
		return nil, fmt.Errorf("%w: %s truncated (no checksum): %w", ErrFormat, what, err)
	}
	if crc32.Checksum(buf.Bytes(), castagnoli) != binary.LittleEndian.Uint32(tail[:]) {
		return nil, fmt.Errorf("%w: %s checksum mismatch (file damaged)", ErrFormat, what)
	}
	return buf.Bytes(), nil
}

// enc and dec write and read the little-endian fields of a payload.
type enc struct{ b []byte }

func (e *enc) u32(v uint32)  { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64)  { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *enc) f32(v float32) { e.u32(math.Float32bits(v)) }
func (e *enc) str(s string)  { e.u32(uint32(len(s))); e.b = append(e.b, s...) }
func (e *enc) floats(v []float32) {
	e.u64(uint64(len(v)))
	for _, x := range v {
		e.f32(x)
	}
}

type dec struct {
	b   []byte
	err error
}

func (d *dec) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if uint64(len(d.b)) < n {
		d.err = io.ErrUnexpectedEOF
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *dec) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (d *dec) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

func (d *dec) f32() float32 { return math.Float32frombits(d.u32()) }
func (d *dec) str() string  { return string(d.take(uint64(d.u32()))) }

func (d *dec) floats() []float32 {
	n := d.u64()
	if d.err == nil && n > uint64(len(d.b))/4 {
		d.err = io.ErrUnexpectedEOF
	}
	raw := d.take(n * 4)
	if raw == nil {
		return nil
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return v
}

// Save writes the model (spec, shapes, seed, step count and all weights,
// including batch-norm statistics) to w.
func (m *Model) Save(w io.Writer) error {
	var e enc
	e.str(m.spec.String())
	for _, v := range []int{m.in.H, m.in.W, m.in.C, m.classes} {
		e.u32(uint32(v))
	}
	e.u64(m.seed)
	e.u64(m.step)
	e.u32(uint32(len(m.ps)))
	for _, p := range m.ps {
		e.str(p.name)
		e.floats(p.w)
	}
	if err := writeRecord(w, modelMagic, modelVersion, e.b); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	return nil
}

// Load reads a model written by Save. A damaged file, another format
// version or a file that is not a model gives an error wrapping ErrFormat.
func Load(r io.Reader) (*Model, error) {
	payload, err := readRecord(r, modelMagic, "model", modelVersion)
	if err != nil {
		return nil, err
	}
	d := dec{b: payload}
	specStr := d.str()
	h, w, c, classes := d.u32(), d.u32(), d.u32(), d.u32()
	seed, step := d.u64(), d.u64()
	if d.err != nil {
		return nil, fmt.Errorf("%w: model header: %w", ErrFormat, d.err)
	}
	spec, err := ParseSpec(specStr)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	m, err := Build(spec, Shape{int(h), int(w), int(c)}, int(classes), seed)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	m.step = step
	if n := d.u32(); int(n) != len(m.ps) {
		return nil, fmt.Errorf("%w: model has %d tensors, spec needs %d", ErrFormat, n, len(m.ps))
	}
	for _, p := range m.ps {
		name, v := d.str(), d.floats()
		if d.err != nil {
			return nil, fmt.Errorf("%w: tensor %s: %w", ErrFormat, p.name, d.err)
		}
		if name != p.name || len(v) != len(p.w) {
			return nil, fmt.Errorf("%w: tensor %s[%d] where the spec needs %s[%d]", ErrFormat, name, len(v), p.name, len(p.w))
		}
		if !finiteSum(v) {
			return nil, fmt.Errorf("%w: tensor %s holds NaN or infinite values", ErrFormat, name)
		}
		copy(p.w, v)
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d stray bytes after the tensors", ErrFormat, len(d.b))
	}
	return m, nil
}

func saveSlots(e *enc, slots []slot) {
	e.u32(uint32(len(slots)))
	for _, s := range slots {
		e.str(s.name)
		e.floats(s.m)
		e.floats(s.v)
	}
}

func loadSlots(d *dec, second bool) ([]slot, error) {
	n := d.u32()
	if d.err != nil {
		return nil, d.err
	}
	if n == 0 {
		return nil, nil
	}
	if uint64(n) > uint64(len(d.b)) {
		return nil, fmt.Errorf("%d slots in %d bytes", n, len(d.b))
	}
	slots := make([]slot, n)
	for i := range slots {
		slots[i] = slot{name: d.str(), m: d.floats(), v: d.floats()}
		if d.err != nil {
			return nil, d.err
		}
		if second && len(slots[i].v) != len(slots[i].m) {
			return nil, fmt.Errorf("slot %s: %d first moments but %d second", slots[i].name, len(slots[i].m), len(slots[i].v))
		}
		if !second {
			slots[i].v = nil
		}
	}
	return slots, nil
}

// SaveState writes Adam's hyper-parameters, step count and moments.
func (a *Adam) SaveState(w io.Writer) error {
	var e enc
	e.str(a.Name())
	for _, v := range []float32{a.LR, a.Beta1, a.Beta2, a.Eps, a.WeightDecay} {
		e.f32(v)
	}
	e.u32(b2u(a.Decoupled))
	e.u64(uint64(a.t))
	saveSlots(&e, a.slots)
	return writeRecord(w, optimMagic, optimVersion, e.b)
}

// LoadState restores what SaveState wrote.
func (a *Adam) LoadState(r io.Reader) error {
	d, err := readOptim(r, a.Name())
	if err != nil {
		return err
	}
	lr, b1, b2, eps, wd := d.f32(), d.f32(), d.f32(), d.f32(), d.f32()
	decoupled, t := d.u32() != 0, int64(d.u64())
	slots, err := loadSlots(d, true)
	if err == nil && len(d.b) != 0 {
		err = fmt.Errorf("%d stray bytes", len(d.b))
	}
	if err != nil {
		return fmt.Errorf("%w: adam state: %w", ErrFormat, err)
	}
	a.LR, a.Beta1, a.Beta2, a.Eps, a.WeightDecay, a.Decoupled, a.t, a.slots = lr, b1, b2, eps, wd, decoupled, t, slots
	return nil
}

// SaveState writes SGD's hyper-parameters, step count and velocities.
func (o *SGD) SaveState(w io.Writer) error {
	var e enc
	e.str(o.Name())
	for _, v := range []float32{o.LR, o.Momentum, o.WeightDecay} {
		e.f32(v)
	}
	e.u32(b2u(o.Nesterov))
	e.u64(uint64(o.t))
	saveSlots(&e, o.slots)
	return writeRecord(w, optimMagic, optimVersion, e.b)
}

// LoadState restores what SaveState wrote.
func (o *SGD) LoadState(r io.Reader) error {
	d, err := readOptim(r, o.Name())
	if err != nil {
		return err
	}
	lr, mu, wd := d.f32(), d.f32(), d.f32()
	nest, t := d.u32() != 0, int64(d.u64())
	slots, err := loadSlots(d, false)
	if err == nil && len(d.b) != 0 {
		err = fmt.Errorf("%d stray bytes", len(d.b))
	}
	if err != nil {
		return fmt.Errorf("%w: sgd state: %w", ErrFormat, err)
	}
	o.LR, o.Momentum, o.WeightDecay, o.Nesterov, o.t, o.slots = lr, mu, wd, nest, t, slots
	return nil
}

func readOptim(r io.Reader, kind string) (*dec, error) {
	payload, err := readRecord(r, optimMagic, "optimizer state", optimVersion)
	if err != nil {
		return nil, err
	}
	d := &dec{b: payload}
	if got := d.str(); got != kind {
		return nil, fmt.Errorf("%w: optimizer state is for %q, not %q", ErrFormat, got, kind)
	}
	return d, nil
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}
