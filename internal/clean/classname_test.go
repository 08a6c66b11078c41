package clean

import (
	"context"
	"path"
	"testing"
)

// Free-text class names: quarantine and reclass keys use the class's folder
// form (classname.Folder), and the catalog keeps the name as written.
func TestFreeTextClassKeys(t *testing.T) {
	p := newProject(t)
	photos := boats(t, "Cruise Ships", 3)
	good := p.add("Cruise Ships", photos[0])
	p.add("Cruise Ships", photos[1])
	broken := p.add("Cruise Ships", photos[2][:len(photos[2])/2])
	p.run(Options{})

	im := p.image(broken)
	want := "quarantine/" + ReasonBroken + "/Cruise_Ships/" + broken + path.Ext(im.Key)
	if im.Key != want || !p.exists(want) || im.Class != "Cruise Ships" {
		t.Errorf("broken image: class %q at %s (exists %v), want class \"Cruise Ships\" at %s", im.Class, im.Key, p.exists(im.Key), want)
	}

	for class, folder := range map[string]string{"望遠鏡": "望遠鏡", "Type 052/D": "Type_052_D"} {
		if _, err := Reclass(context.Background(), ReclassOptions{Catalog: p.cat, Store: p.store, SHA256: good, Class: class}); err != nil {
			t.Fatalf("reclass to %q: %v", class, err)
		}
		im := p.image(good)
		want := "images/" + folder + "/" + good + path.Ext(im.Key)
		if im.Key != want || !p.exists(want) || im.Class != class {
			t.Errorf("reclassed to %q: class %q at %s, want %s", class, im.Class, im.Key, want)
		}
	}
}
