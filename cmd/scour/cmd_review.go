package main

import (
	"fmt"
	"os/exec"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/scour-dev/scour/internal/pipeline"
	"github.com/scour-dev/scour/internal/project"
)

func newReviewCmd(g *globals) *cobra.Command {
	var (
		addr   string
		noOpen bool
	)
	c := &cobra.Command{
		Use:   "review",
		Short: "Look at what clean flagged in a local web page; keep or discard",
		Long: `review serves a page on 127.0.0.1 (a random free port) with the images clean
quarantined, a tab per reason, each beside its class's reference images, with
its score. Keys: arrows move, k keeps, d discards, u undoes, 1-9 switch reason,
space enlarges. "Keep" moves the image back out of quarantine and records the
decision, so clean will not quarantine it again; "discard" leaves it in
quarantine, decided. Decisions are written to the catalog at once and survive
a restart. Only this machine can reach the page, and only with the link
printed here. Stop with Ctrl-C.`,
		Example: `  scour review
  scour review --no-open     # print the link only`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			ui := newUI(g)
			p, err := project.Open(ctx, g.dir)
			if err != nil {
				return err
			}
			defer p.Close()
			srv, err := pipeline.StartReview(ctx, p, addr, ui)
			if err != nil {
				return err
			}
			defer srv.Close()
			if g.json {
				fmt.Fprintf(ui.out, "{\"url\": %q}\n", srv.URL())
			} else {
				fmt.Fprintf(ui.out, "review at %s (Ctrl-C to stop)\n", srv.URL())
			}
			if !noOpen {
				openBrowser(srv.URL())
			}
			return srv.Wait()
		},
	}
	c.Flags().StringVar(&addr, "addr", pipeline.ReviewAddr, "loopback address to listen on")
	c.Flags().BoolVar(&noOpen, "no-open", false, "do not open a browser")
	return c
}

// openBrowser tries the desktop's opener; on a headless machine nothing
// happens and the printed link is enough.
func openBrowser(url string) {
	name := "xdg-open"
	if runtime.GOOS == "darwin" {
		name = "open"
	}
	if path, err := exec.LookPath(name); err == nil {
		c := exec.Command(path, url)
		if c.Start() == nil {
			go c.Wait()
		}
	}
}
