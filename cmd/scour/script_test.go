package main

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/scour-dev/scour/internal/sharedtest"
)

// TestMain lets the scripts run `scour` as a real command (a re-exec of the
// test binary), so exit codes and stdout/stderr are exactly a user's.
func TestMain(m *testing.M) {
	if os.Getenv("SCOUR_TEST_AS_MAIN") == "1" {
		os.Exit(run(os.Args[1:]))
	}
	testscript.Main(m, map[string]func(){
		"scour": func() { os.Exit(run(os.Args[1:])) },
	})
}

// TestScripts runs testdata/script/*.txtar: each is a small session at a
// shell, with the files it needs, the commands and what they must print.
// Scripts that need the shared test data say so with [!shared] skip; the
// others run everywhere.
func TestScripts(t *testing.T) {
	shared, haveShared := sharedtest.Find()
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			if haveShared {
				env.Setenv("SHARED", shared)
			}
			examples, _ := filepath.Abs("../../examples")
			env.Setenv("EXAMPLES", examples)
			// Tools the test set-up installed (ONNX Runtime, the S3 server).
			for _, k := range []string{"SCOUR_ONNXRUNTIME_LIB", "SCOUR_VERSITYGW"} {
				if v := os.Getenv(k); v != "" {
					env.Setenv(k, v)
				}
			}
			return nil
		},
		// [onnx] holds when ONNX Runtime is installed (test.sh sets the
		// variable), so clean's recognizer and the head can run; [shared]
		// when the shared test data was found ($SHARED).
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "onnx":
				return os.Getenv("SCOUR_ONNXRUNTIME_LIB") != "", nil
			case "shared":
				return haveShared, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// exits N PROG ARGS...: run PROG and require exit status N
			// (stdout and stderr are kept for the next stdout/stderr checks).
			"exits": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 {
					ts.Fatalf("usage: exits N PROG ARGS...")
				}
				err := ts.Exec(args[1], args[2:]...)
				code := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					code = ee.ExitCode()
				} else if err != nil {
					ts.Fatalf("%v", err)
				}
				if fmt.Sprint(code) != args[0] {
					ts.Fatalf("exit status %d, want %s", code, args[0])
				}
			},
			// serve-images DIR: serve DIR's files at /img/NAME, plus /html/*
			// (HTML sent as image/jpeg), /gone/* (404), /busy/* (503, a
			// passing failure), /noai/NAME (DIR/NAME with X-Robots-Tag: noai)
			// and DIR/robots.txt at /robots.txt, on loopback; sets $SERVER,
			// and $CLOSED to a loopback address where nothing listens.
			"serve-images": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: serve-images DIR")
				}
				dir := ts.MkAbs(args[0])
				mux := http.NewServeMux()
				mux.Handle("/img/", http.StripPrefix("/img/", http.FileServer(http.Dir(dir))))
				mux.HandleFunc("/html/", func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "image/jpeg")
					fmt.Fprint(w, "<!doctype html><title>Forbidden</title>")
				})
				mux.HandleFunc("/busy/", func(w http.ResponseWriter, r *http.Request) {
					http.Error(w, "busy", http.StatusServiceUnavailable)
				})
				mux.HandleFunc("/noai/", func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("X-Robots-Tag", "noai")
					http.ServeFile(w, r, filepath.Join(dir, filepath.Base(r.URL.Path)))
				})
				mux.HandleFunc("/robots.txt", func(w http.ResponseWriter, r *http.Request) {
					http.ServeFile(w, r, filepath.Join(dir, "robots.txt"))
				})
				srv := httptest.NewServer(mux)
				ts.Defer(srv.Close)
				ts.Setenv("SERVER", srv.URL)
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				ts.Check(err)
				ts.Setenv("CLOSED", ln.Addr().String())
				ln.Close()
			},
			// make-images DIR N good|dark: write N distinct 64x64 PNGs into
			// DIR, named KIND-NNN.png: coloured blocks clean keeps, or nearly
			// black frames it quarantines (each with its own bytes).
			"make-images": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 || (args[2] != "good" && args[2] != "dark") {
					ts.Fatalf("usage: make-images DIR N good|dark")
				}
				var n int
				fmt.Sscan(args[1], &n)
				dir := ts.MkAbs(args[0])
				ts.Check(os.MkdirAll(dir, 0o755))
				for i := range n {
					rng := rand.New(rand.NewPCG(uint64(len(args[2])), uint64(i)))
					img := image.NewRGBA(image.Rect(0, 0, 64, 64))
					for b := range 64 {
						c := color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
						if args[2] == "dark" {
							c = color.RGBA{c.R % 6, c.G % 6, c.B % 6, 255}
						}
						for y := b / 8 * 8; y < b/8*8+8; y++ {
							for x := b % 8 * 8; x < b%8*8+8; x++ {
								img.SetRGBA(x, y, c)
							}
						}
					}
					var buf bytes.Buffer
					ts.Check(png.Encode(&buf, img))
					ts.Check(os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%03d.png", args[2], i)), buf.Bytes(), 0o644))
				}
			},
			// copy-images SRC DST N: copy the first N image files of SRC into DST.
			"copy-images": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 {
					ts.Fatalf("usage: copy-images SRC DST N")
				}
				var n int
				fmt.Sscan(args[2], &n)
				src, dst := ts.MkAbs(args[0]), ts.MkAbs(args[1])
				ents, err := os.ReadDir(src)
				ts.Check(err)
				ts.Check(os.MkdirAll(dst, 0o755))
				for _, e := range ents {
					if n == 0 {
						break
					}
					if !strings.HasSuffix(e.Name(), ".jpg") {
						continue
					}
					b, err := os.ReadFile(filepath.Join(src, e.Name()))
					ts.Check(err)
					ts.Check(os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644))
					n--
				}
			},
		},
	})
}
