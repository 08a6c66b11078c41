package split

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

func items(classes map[string]int, groupEvery int) []Item {
	var out []Item
	for c, n := range classes {
		for i := 0; i < n; i++ {
			it := Item{SHA256: fmt.Sprintf("%s-%04d", c, i), Class: c}
			if groupEvery > 0 && i%groupEvery < 3 {
				it.Group = fmt.Sprintf("%s-g%d", c, i/groupEvery)
			}
			out = append(out, it)
		}
	}
	return out
}

func TestAssignStratifiedAndProportional(t *testing.T) {
	f := Fractions{Train: 0.7, Val: 0.15, Test: 0.15}
	its := items(map[string]int{"a": 1000, "b": 200, "c": 7}, 0)
	got, err := Assign(its, f, 42)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]map[string]int{}
	for _, it := range its {
		if count[it.Class] == nil {
			count[it.Class] = map[string]int{}
		}
		count[it.Class][got[it.SHA256]]++
	}
	for c, n := range map[string]int{"a": 1000, "b": 200} {
		for _, s := range Names {
			want := f.of(s) * float64(n)
			if math.Abs(float64(count[c][s])-want) > 1 {
				t.Errorf("class %s set %s: %d, want %.0f±1", c, s, count[c][s], want)
			}
		}
	}
	for _, s := range Names {
		if count["c"][s] == 0 {
			t.Errorf("class c (7 images): set %s empty", s)
		}
	}
}

func TestAssignKeepsGroupsTogether(t *testing.T) {
	its := items(map[string]int{"a": 300, "b": 300}, 10) // groups of 3 in every 10
	// A cross-class group: one image of b joins a group of a.
	its = append(its, Item{SHA256: "b-cross", Class: "b", Group: "a-g0"})
	got, err := Assign(its, Fractions{Train: 0.6, Val: 0.2, Test: 0.2}, 1)
	if err != nil {
		t.Fatal(err)
	}
	side := map[string]string{}
	for _, it := range its {
		if it.Group == "" {
			continue
		}
		if s, ok := side[it.Group]; ok && s != got[it.SHA256] {
			t.Fatalf("group %s straddles %s and %s", it.Group, s, got[it.SHA256])
		}
		side[it.Group] = got[it.SHA256]
	}
}

func TestAssignDeterministicAndOrderFree(t *testing.T) {
	its := items(map[string]int{"a": 100, "b": 50}, 7)
	f := Fractions{Train: 0.8, Val: 0.1, Test: 0.1}
	a, _ := Assign(its, f, 7)
	shuffled := append([]Item(nil), its...)
	rand.New(rand.NewSource(3)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	b, _ := Assign(shuffled, f, 7)
	for k, v := range a {
		if b[k] != v {
			t.Fatalf("%s: %s then %s: order of input changed the split", k, v, b[k])
		}
	}
	c, _ := Assign(its, f, 8)
	diff := 0
	for k, v := range a {
		if c[k] != v {
			diff++
		}
	}
	if diff == 0 {
		t.Fatal("another seed gave the same split")
	}
}

func TestFractionsValidate(t *testing.T) {
	for _, f := range []Fractions{{0.5, 0.5, 0.5}, {-0.1, 0.6, 0.5}, {0, 0.5, 0.5}} {
		if _, err := Assign(nil, f, 0); err == nil {
			t.Errorf("%+v accepted", f)
		}
	}
	got, err := Assign([]Item{{SHA256: "x", Class: "a"}}, Fractions{Train: 0.7, Val: 0.15, Test: 0.15}, 0)
	if err != nil || got["x"] != Train {
		t.Fatalf("a class with one image: %v %v (want it in train)", got, err)
	}
}
