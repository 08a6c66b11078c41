package review

import (
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/store"
)

//go:embed web
var webFiles embed.FS

var page = template.Must(template.ParseFS(webFiles, "web/index.html"))

const (
	keyParam    = "key"           // the URL's session key, traded for a cookie on the first visit
	tokenHeader = "X-Scour-Token" // the session key again, on every request that changes anything
	maxBodySize = 4 << 10         // a decision is a few dozen bytes of JSON
	csp         = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	static, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(static)
	mux.HandleFunc("GET /{$}", s.index)
	for _, name := range []string{"app.js", "app.css", "favicon.svg"} {
		mux.Handle("GET /"+name, files)
	}
	mux.HandleFunc("GET /api/state", s.state)
	mux.HandleFunc("GET /api/items", s.items)
	mux.HandleFunc("GET /api/locate", s.locate)
	mux.HandleFunc("POST /api/decide", s.decideHandler)
	mux.HandleFunc("POST /api/undo", s.undoHandler)
	mux.HandleFunc("GET /image/{sha}", s.image)
	mux.HandleFunc("GET /ref/{class}/{n}", s.reference)
	return s.guard(mux)
}

// guard lets through only requests for this server, from the person who
// opened its URL, and state changes only from the page itself.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		// A DNS-rebinding page reaches this port under its own host name,
		// which the browser puts in Host.
		if !s.hosts[r.Host] {
			httpError(w, http.StatusForbidden, fmt.Sprintf("this server answers only to %s", s.origin))
			return
		}
		if key := r.URL.Query().Get(keyParam); key != "" && r.Method == http.MethodGet && r.URL.Path == "/" {
			if !s.isSecret(key) {
				http.Error(w, "wrong key: open the address that scour review printed", http.StatusForbidden)
				return
			}
			http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: s.secret, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		if c, err := r.Cookie(s.cookie); err != nil || !s.isSecret(c.Value) {
			msg := "open the address that scour review printed: it carries this session's key"
			if r.URL.Path == "/" {
				http.Error(w, msg, http.StatusForbidden) // a person reads this one
			} else {
				httpError(w, http.StatusForbidden, msg)
			}
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !s.hosts[hostOf(r.Header.Get("Origin"))] {
				httpError(w, http.StatusForbidden, "a change must come from the review page itself")
				return
			}
			if !s.isSecret(r.Header.Get(tokenHeader)) {
				httpError(w, http.StatusForbidden, "missing or wrong session token")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) isSecret(v string) bool {
	return subtle.ConstantTimeCompare([]byte(v), []byte(s.secret)) == 1
}

// hostOf is the host:port of an "http://host:port" origin, or "".
func hostOf(origin string) string {
	host, ok := strings.CutPrefix(origin, "http://")
	if !ok {
		return ""
	}
	return host
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	page.Execute(w, struct{ Token, Project string }{s.secret, filepath.Base(s.root.Name())})
}

type decisionJSON struct {
	SHA256   string `json:"sha256"`
	Decision string `json:"decision"`
	Class    string `json:"class,omitempty"` // for a move: the class it goes to
}

func (s *Server) decideHandler(w http.ResponseWriter, r *http.Request) {
	var req decisionJSON
	if !readJSON(w, r, &req) {
		return
	}
	if !sha256Hex.MatchString(req.SHA256) {
		httpError(w, http.StatusBadRequest, "sha256 must be 64 lowercase hex digits")
		return
	}
	switch {
	case req.Decision != verdictKeep && req.Decision != verdictDiscard && req.Decision != verdictMove:
		httpError(w, http.StatusBadRequest, fmt.Sprintf("decision must be %q, %q or %q", verdictKeep, verdictDiscard, verdictMove))
		return
	case (req.Decision == verdictMove) != (req.Class != ""):
		httpError(w, http.StatusBadRequest, fmt.Sprintf("a class goes with decision %q, and only with it", verdictMove))
		return
	}
	// A decision once started runs to its end, even if the page goes away:
	// stopping between the store and the catalog would leave work for
	// recover.
	ctx := context.WithoutCancel(r.Context())
	var err error
	if req.Decision == verdictMove {
		err = s.moveTo(ctx, req.SHA256, req.Class)
	} else {
		err = s.decideOn(ctx, req.SHA256, req.Decision)
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, req)
}

func (s *Server) undoHandler(w http.ResponseWriter, r *http.Request) {
	var req decisionJSON
	if !readJSON(w, r, &req) {
		return
	}
	if req.SHA256 != "" && !sha256Hex.MatchString(req.SHA256) {
		httpError(w, http.StatusBadRequest, "sha256 must be 64 lowercase hex digits")
		return
	}
	sha, err := s.undoLast(context.WithoutCancel(r.Context()), req.SHA256)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, decisionJSON{SHA256: sha})
}

// image sends a catalog image, found by its content hash.
func (s *Server) image(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha")
	if !sha256Hex.MatchString(sha) {
		http.NotFound(w, r)
		return
	}
	im, err := s.o.Catalog.GetImage(r.Context(), sha)
	if err != nil {
		s.fail(w, err)
		return
	}
	data, err := s.readImage(r.Context(), im.Key)
	if err != nil {
		s.fail(w, err)
		return
	}
	// The bytes of a hash never change, wherever they are moved.
	s.sendPicture(w, r, data, "private, max-age=86400")
}

// reference sends a class's reference image, named by its place in the
// class's list.
func (s *Server) reference(w http.ResponseWriter, r *http.Request) {
	refs := s.refs[r.PathValue("class")]
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 || n >= len(refs) {
		http.NotFound(w, r)
		return
	}
	data, err := s.readReference(refs[n])
	if err != nil {
		httpError(w, http.StatusNotFound, err.Error())
		return
	}
	s.sendPicture(w, r, data, "no-cache")
}

func (s *Server) sendPicture(w http.ResponseWriter, r *http.Request, data []byte, cache string) {
	side := thumbSide
	if r.URL.Query().Get("size") == "large" {
		side = largeSide
	}
	jpg, err := s.render(r.Context(), data, side)
	if err != nil {
		httpError(w, http.StatusUnprocessableEntity, "cannot draw this image: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", cache)
	w.Write(jpg)
}

// fail answers with the status that err's kind calls for.
func (s *Server) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, errConflict):
		httpError(w, http.StatusConflict, err.Error())
	case errors.Is(err, catalog.ErrNotFound), errors.Is(err, store.ErrNotExist):
		httpError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrInvalidKey):
		httpError(w, http.StatusForbidden, err.Error())
	default:
		if errkind.IsFatal(err) {
			// The terminal that started the server hears of it too: a
			// damaged catalog or a full disk needs more than a page reload.
			progress.Warn(s.events, stage, err.Error())
		}
		httpError(w, http.StatusInternalServerError, err.Error())
	}
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodySize))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		httpError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
