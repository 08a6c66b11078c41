package pipeline

import (
	"context"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/project"
	"github.com/scour-dev/scour/internal/review"
)

// ReviewAddr is the default address of the review page: a free port on
// the IPv4 loopback.
const ReviewAddr = review.DefaultAddr

// StartReview serves the review page of what clean quarantined on addr
// (loopback only). The caller prints its URL and waits on it.
func StartReview(ctx context.Context, p *project.Project, addr string, events progress.Sink) (*review.Server, error) {
	var classes []review.Class
	for _, c := range p.Config.Classes {
		classes = append(classes, review.Class{Name: c.Name, References: c.References})
	}
	srv, err := review.Start(ctx, review.Options{Catalog: p.Catalog, Store: p.Store, ProjectDir: p.Dir, Classes: classes, Addr: addr, Events: events})
	if err != nil {
		// An address the page may not listen on is the user's to change.
		return nil, errkind.WithCause(err, "config")
	}
	return srv, nil
}
