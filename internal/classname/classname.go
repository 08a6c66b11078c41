// Package classname turns a class name as people write it ("Cruise Ships",
// "望遠鏡", "B-52") into the folder name it gets in stores and on disk.
//
// The name as written is what people see and what data records; the folder
// form is only where bytes live. It sits below every stage (config, gather,
// clean, split, export and the folder engine all need the same answer), so it
// imports nothing of scour's: config imports clean, so the function cannot
// live in config without a cycle.
package classname

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// MaxFolderBytes bounds a folder form's length, far below the 255 bytes most
// file systems allow for one path element, so that a store prefix, a set
// folder and the image's own name still fit in tools with path limits.
const MaxFolderBytes = 100

// hashLen is the hex digits of the name's sha256 appended where the folder
// form had to drop what made the name unique (a cut, or nothing readable).
const hashLen = 8

// Folder is class name's folder form: a pure function of the name, safe as
// one path element on Linux, macOS and Windows and as an S3 key part, and
// readable. Letters of any script, marks, digits, '-', '_' and '.' are kept
// (NFC-normalised); every run of anything else (spaces, punctuation, path
// separators, control characters, symbols, emoji) becomes one '_', dropped
// at either end; leading dots (hidden folders) and trailing dots (Windows
// drops them) go; a Windows device name (CON, nul.txt, COM1) gets a '_'; a
// name longer than MaxFolderBytes is cut and gets a short hash of the name,
// as does a name with nothing readable left. Names already made only of
// ASCII letters, digits, '-', '_' and '.' and none of the above are
// returned unchanged, so existing projects keep their folders and keys.
//
// Different names can share a folder form ("Cruise Ships" and
// "Cruise_Ships"); Check finds those.
func Folder(name string) string {
	n := norm.NFC.String(strings.ToValidUTF8(name, "_"))
	var b strings.Builder
	b.Grow(len(n))
	sep, prevKept := false, false
	for _, r := range n {
		// A mark (an accent, a vowel sign, a variation selector) is kept
		// only on a character that is kept, so an emoji's variation
		// selector does not outlive the emoji.
		// Leading dots would hide the folder.
		if keep(r) && (prevKept || !unicode.IsMark(r)) && (r != '.' || b.Len() > 0) {
			if sep && b.Len() > 0 {
				b.WriteByte('_')
			}
			sep, prevKept = false, true
			b.WriteRune(r)
			continue
		}
		sep, prevKept = true, false
	}
	out := strings.TrimRight(b.String(), ".")
	if out == "" {
		return "class-" + shortHash(name)
	}
	out = unreserve(out)
	if len(out) > MaxFolderBytes {
		cut := MaxFolderBytes - 1 - hashLen
		for cut > 0 && !utf8.RuneStart(out[cut]) {
			cut--
		}
		// A cut between a letter and its combining marks would leave a
		// bare base; the hash keeps the form unique either way.
		out = strings.TrimRight(out[:cut], "._-") + "-" + shortHash(name)
	}
	return out
}

func keep(r rune) bool {
	return r == '-' || r == '_' || r == '.' ||
		unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsNumber(r)
}

// windowsDevices are the names Windows reserves in every folder, whatever
// the extension and case ("con.txt" is the console too).
var windowsDevices = func() map[string]bool {
	m := map[string]bool{"CON": true, "PRN": true, "AUX": true, "NUL": true}
	for _, d := range []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³"} {
		m["COM"+d], m["LPT"+d] = true, true
	}
	return m
}()

// unreserve appends '_' to the stem of a Windows device name.
func unreserve(s string) string {
	stem, rest, dot := strings.Cut(s, ".")
	switch {
	case !windowsDevices[strings.ToUpper(stem)]:
		return s
	case dot:
		return stem + "_." + rest
	default:
		return stem + "_"
	}
}

func shortHash(name string) string {
	sum := sha256.Sum256([]byte(norm.NFC.String(name)))
	return hex.EncodeToString(sum[:])[:hashLen]
}

// foldKey is what two folder forms must differ in to be different folders
// everywhere: macOS and Windows compare folder names without case (and
// macOS without normalisation form, which Folder has already fixed).
func foldKey(folder string) string {
	return norm.NFC.String(cases.Fold().String(folder))
}

// Check refuses class names that would share a folder, naming both and what
// to do. names are the project's classes, each listed once.
func Check(names []string) error {
	seen := make(map[string]string, len(names))
	for _, n := range names {
		f := Folder(n)
		k := foldKey(f)
		if prev, ok := seen[k]; ok {
			pf := Folder(prev)
			how := fmt.Sprintf("folder %q", f)
			if pf != f {
				how = fmt.Sprintf("folders %q and %q, which macOS and Windows take for one", pf, f)
			}
			return fmt.Errorf("classes %q and %q would share the %s (class folders keep letters, digits, '-', '_' and '.', turn everything else into '_' and ignore case): rename one of them in scour.yaml", prev, n, how)
		}
		seen[k] = n
	}
	return nil
}

// Problem says what makes a name unfit to be a class name at all, or ""
// when it is fit: control characters and invalid UTF-8 would break lines of
// reports and exports, and spaces at either end would make two classes
// that look the same.
func Problem(name string) string {
	switch {
	case name == "":
		return "is empty"
	case !utf8.ValidString(name):
		return "is not valid UTF-8"
	case strings.TrimSpace(name) != name:
		return "starts or ends with a space: remove it"
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Sprintf("holds the control character %U: remove it", r)
		}
	}
	return ""
}

// exactOK reports whether exported folders may carry class names exactly as
// written. On Linux any name without '/' is a folder name, so loaders such
// as torchvision's ImageFolder, Keras's image_dataset_from_directory and
// Hugging Face's imagefolder show the classes as written. macOS and Windows
// refuse or alter some characters and ignore case, so there the folder form
// is used.
var exactOK = runtime.GOOS == "linux"

// ExportFolder is the folder a class's images are exported to: the name as
// written where the system allows it (see exactOK) and the name is one plain,
// visible path element, else Folder(name). exact says which.
func ExportFolder(name string) (folder string, exact bool) {
	if exactOK && exactElement(name) {
		return name, true
	}
	return Folder(name), false
}

// exactElement reports whether name can be one visible folder name as is:
// no separator (a backslash too, so the export reads the same on Windows),
// no NUL or other control character, not hidden (loaders skip or trip on
// ".name"), and short enough for Linux's 255-byte limit.
func exactElement(name string) bool {
	return name != "" && Problem(name) == "" && !strings.HasPrefix(name, ".") &&
		!strings.ContainsAny(name, `/\`) && len(name) <= 255
}

// Exporter hands out export folders for the classes of one export and
// refuses two classes landing in one folder (a name written exactly and
// another's folder form can coincide in theory).
type Exporter struct {
	folders map[string]string // class -> folder
	owners  map[string]string // folder -> class
}

// NewExporter returns an empty Exporter.
func NewExporter() *Exporter {
	return &Exporter{folders: map[string]string{}, owners: map[string]string{}}
}

// Folder returns class's export folder.
func (e *Exporter) Folder(class string) (string, error) {
	if f, ok := e.folders[class]; ok {
		return f, nil
	}
	f, _ := ExportFolder(class)
	if other, ok := e.owners[f]; ok {
		return "", fmt.Errorf("classes %q and %q would both be exported to the folder %q: rename one of them in scour.yaml", other, class, f)
	}
	e.folders[class], e.owners[f] = f, class
	return f, nil
}

// Renamed lists the classes whose export folder is not their name as
// written, as "name -> folder", for a note to the user.
func (e *Exporter) Renamed() []string {
	var out []string
	for c, f := range e.folders {
		if c != f {
			out = append(out, fmt.Sprintf("%q -> %s", c, f))
		}
	}
	sort.Strings(out)
	return out
}
