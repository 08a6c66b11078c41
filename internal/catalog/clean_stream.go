package catalog

import (
	"context"
	"encoding/json"
)

// ForEachCleanFeatures calls fn with what the labeler model said about each
// image it labelled (by sha256), a row at a time, so that a caller keeping
// part of it (clean keeps one copy of each label name) never holds every
// row twice: 100,000 rows are some 700 MB as a map. A damaged entry is
// left out, so it is asked for again. fn must not use the catalog.
func (c *Catalog) ForEachCleanFeatures(ctx context.Context, model string, fn func(sha string, f CleanFeatures) error) error {
	rows, err := c.db.QueryContext(ctx, `SELECT sha256, labels, embedding FROM clean_features WHERE model = ?`, model)
	if err != nil {
		return c.corrupt(err)
	}
	defer rows.Close()
	var ls []labelJSON
	for rows.Next() {
		var sha, labels string
		var emb []byte
		if err := rows.Scan(&sha, &labels, &emb); err != nil {
			return c.corrupt(err)
		}
		ls = ls[:0]
		vec, ok := decodeEmbedding(emb)
		if json.Unmarshal([]byte(labels), &ls) != nil || !ok {
			continue
		}
		f := CleanFeatures{Embedding: vec}
		if len(ls) > 0 {
			f.Labels = make([]CleanLabel, len(ls))
			for i, l := range ls {
				f.Labels[i] = CleanLabel(l)
			}
		}
		if err := fn(sha, f); err != nil {
			return err
		}
	}
	return c.corrupt(rows.Err())
}
