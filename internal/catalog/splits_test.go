package catalog

import (
	"context"
	"slices"
	"testing"
)

// A new split replaces the last one whole, and only kept images are
// members.
func TestReplaceSplit(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	addImages(t, c, "a1", "a2", "a3")
	if err := c.ReplaceSplit(ctx, 1, []Assignment{{"a1", "train"}, {"a2", "val"}, {"a3", "test"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.ReplaceSplit(ctx, 2, []Assignment{{"a1", "val"}, {"a2", "train"}, {"a3", "train"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetStatus(ctx, "a3", StatusQuarantined, "quarantine/dark/a/a3.jpg", "dark", "mean", 1); err != nil {
		t.Fatal(err)
	}
	all, err := c.SplitMembers(ctx, "")
	want := []SplitMember{{"a1", "a", "images/a/a1.jpg", "val"}, {"a2", "a", "images/a/a2.jpg", "train"}}
	if err != nil || !slices.Equal(all, want) {
		t.Errorf("members %+v, %v; want %+v", all, err, want)
	}
	if train, err := c.SplitMembers(ctx, "train"); err != nil || !slices.Equal(train, want[1:]) {
		t.Errorf("train %+v, %v", train, err)
	}
}

func TestMergedShards(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	if v, err := c.MergedShard(ctx, "shard-0001-of-0002"); err != nil || v != "" {
		t.Errorf("never merged: %q, %v", v, err)
	}
	for _, v := range []string{"1@1", "2@2"} {
		if err := c.SetMergedShard(ctx, "shard-0001-of-0002", v); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := c.MergedShard(ctx, "shard-0001-of-0002"); err != nil || v != "2@2" {
		t.Errorf("merged %q, %v; want the last version", v, err)
	}
}
