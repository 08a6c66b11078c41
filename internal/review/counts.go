package review

import (
	"context"
	"sync"

	"github.com/scour-dev/scour/internal/catalog"
)

// counts keeps the page's layout, how many images each reason, class and
// decision has, from one request to the next while the catalog is
// unchanged. Counting joins every quarantined image with clean's scores
// (a fifth of a second at 20,000 images, on the catalog's one connection,
// which the page's other requests wait for), so the first count is made as
// the server starts, while the browser opens, and a reload that follows no
// write costs nothing.
type counts struct {
	cat *catalog.Catalog
	mu  sync.Mutex // held while counting: a second request waits for the first count
	at  catalog.ReviewChanges
	ok  bool
	got []catalog.ReviewGroup
}

func (c *counts) groups(ctx context.Context) ([]catalog.ReviewGroup, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Read before counting: a write made while counting shows as a change
	// at the next request.
	at, err := c.cat.ReviewChanges(ctx)
	if err != nil {
		return nil, err
	}
	if c.ok && at == c.at {
		return c.got, nil
	}
	got, err := c.cat.ReviewGroups(ctx, scoring)
	if err != nil {
		c.ok = false
		return nil, err
	}
	c.at, c.ok, c.got = at, true, got
	return got, nil
}
