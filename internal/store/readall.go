package store

import (
	"context"
	"fmt"
	"io"
)

// ReadAll returns the whole object under key. A limit above zero refuses
// objects larger than limit bytes (reading at most one byte past it), so a
// caller that holds bytes in memory is not surprised by a huge object.
func ReadAll(ctx context.Context, st Store, key string, limit int64) ([]byte, error) {
	r, err := st.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if limit <= 0 {
		return io.ReadAll(r)
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("store: reading %q: %w", key, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("store: %q is over %d MB", key, limit>>20)
	}
	return data, nil
}
