package store

import (
	"context"
	"fmt"
	"io"
)

// bodyReader guards a Put body so that every store fails the same way on a bad
// one: it stops with ctx's error once ctx is done (a copy loop may otherwise
// run to the end of a long body), and when size >= 0 it fails unless the body
// is exactly size bytes, so a truncated download is never stored as if whole.
// The error comes before the final io.EOF, which makes the upload abort.
type bodyReader struct {
	ctx  context.Context
	r    io.Reader
	size int64
	n    int64
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.size >= 0 {
		left := b.size - b.n
		if left == 0 {
			return 0, b.checkEnd()
		}
		if int64(len(p)) > left {
			p = p[:left]
		}
	}
	k, err := b.r.Read(p)
	b.n += int64(k)
	if err == io.EOF && b.size >= 0 && b.n < b.size {
		return k, fmt.Errorf("body ended after %d of the declared %d bytes: %w", b.n, b.size, io.ErrUnexpectedEOF)
	}
	return k, err
}

// checkEnd reads past the declared size to tell a body of exactly that size
// (io.EOF) from a longer one.
func (b *bodyReader) checkEnd() error {
	var one [1]byte
	for range 100 {
		k, err := b.r.Read(one[:])
		if k > 0 {
			return fmt.Errorf("body is longer than the declared %d bytes", b.size)
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}
