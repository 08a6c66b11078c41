package classname

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFolder(t *testing.T) {
	long := strings.Repeat("Zerstörer ", 30) // 300 characters
	for _, tc := range []struct{ name, want string }{
		// Already safe: unchanged, so existing projects keep their keys.
		{"zumwalt", "zumwalt"},
		{"type052", "type052"},
		{"B-52", "B-52"},
		{"Cruise_Ships", "Cruise_Ships"},
		{"v1.2", "v1.2"},
		{"__x--y__", "__x--y__"},
		// Letters of any script are kept.
		{"望遠鏡", "望遠鏡"},
		{"Звезда", "Звезда"},
		{"नमस्ते", "नमस्ते"}, // vowel signs are marks on kept letters
		{"Cruise Ships", "Cruise_Ships"},
		{"  Cruise   Ships! ", "Cruise_Ships"},
		{"望遠鏡 (大)", "望遠鏡_大"},
		{"Type 052D/Luyang III", "Type_052D_Luyang_III"},
		// Paths cannot escape or hide.
		{"../etc", "etc"},
		{"a/b", "a_b"},
		{`a\b`, "a_b"},
		{".hidden", "hidden"},
		{"..", "class-" + shortHash("..")},
		{"a:b*c?d\"e<f>g|h", "a_b_c_d_e_f_g_h"},
		{"line\nbreak\x00nul", "line_break_nul"},
		{"trailing.", "trailing"},
		// Windows device names, any case, any extension.
		{"CON", "CON_"},
		{"nul", "nul_"},
		{"com1.ships", "com1_.ships"},
		{"LPT9", "LPT9_"},
		{"CONSOLE", "CONSOLE"},
		// Emoji and symbols go; nothing readable left gets a hash.
		{"🚢 ships", "ships"},
		{"❤️ love", "love"},
		{"🚢", "class-" + shortHash("🚢")},
		{"C++", "C"},
		// Both normalisation forms give one folder.
		{"Cafe\u0301", "Caf\u00e9"},
		{"Caf\u00e9", "Caf\u00e9"},
	} {
		if got := Folder(tc.name); got != tc.want {
			t.Errorf("Folder(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}

	f := Folder(long)
	if len(f) > MaxFolderBytes || !utf8.ValidString(f) {
		t.Fatalf("Folder(300 chars) = %q (%d bytes): want valid UTF-8 of at most %d", f, len(f), MaxFolderBytes)
	}
	if !strings.HasPrefix(f, "Zerstörer_Zerstörer_") || !strings.HasSuffix(f, "-"+shortHash(long)) {
		t.Errorf("Folder(300 chars) = %q: want the start of the name and its hash", f)
	}
	if other := Folder(long + "x"); other == f {
		t.Errorf("two long names with one prefix share the folder %q", f)
	}
	// Multibyte runes are never cut in half.
	if g := Folder(strings.Repeat("望", 200)); len(g) > MaxFolderBytes || !utf8.ValidString(g) {
		t.Errorf("Folder(200 CJK) = %q (%d bytes)", g, len(g))
	}
}

// Every name that was valid before free-text names (and is not a device,
// hidden, dotted at the end or overlong) keeps its folder.
func TestFolderKeepsOldNames(t *testing.T) {
	const alphabet = "abcXYZ019._-"
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		for n, x := 1+i%7, i; n > 0; n-- {
			b.WriteByte(alphabet[x%len(alphabet)])
			x = x/len(alphabet) + 7*i
		}
		s := b.String()
		if strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") {
			continue
		}
		if got := Folder(s); got != s {
			t.Fatalf("Folder(%q) = %q: an old name must keep its folder", s, got)
		}
	}
}

func TestFolderIsSafe(t *testing.T) {
	for _, n := range []string{"a/../../b", "\x7f", "CON.txt", " . ", "a\u200db", "\u0301x", strings.Repeat("é", 300), "ok"} {
		f := Folder(n)
		if f == "" || f == "." || f == ".." || strings.ContainsAny(f, "/\\:*?\"<>| \x00") || strings.HasPrefix(f, ".") || strings.HasSuffix(f, ".") || len(f) > MaxFolderBytes {
			t.Errorf("Folder(%q) = %q is not a safe folder name", n, f)
		}
		if Folder(n) != f {
			t.Errorf("Folder(%q) is not stable", n)
		}
	}
}

func TestCheck(t *testing.T) {
	if err := Check([]string{"Cruise Ships", "望遠鏡", "B-52", "zumwalt"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		names []string
		want  []string
	}{
		{[]string{"Cruise Ships", "Cruise_Ships"}, []string{`"Cruise Ships" and "Cruise_Ships"`, `folder "Cruise_Ships"`, "rename one"}},
		{[]string{"Ship", "zumwalt", "ship"}, []string{`"Ship" and "ship"`, "macOS and Windows"}},
		{[]string{"Caf\u00e9", "Cafe\u0301"}, []string{"share"}},
		{[]string{"C++", "C"}, []string{`"C++" and "C"`}},
	} {
		err := Check(tc.names)
		if err == nil {
			t.Errorf("Check(%q): no error", tc.names)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Check(%q) = %v: want it to say %s", tc.names, err, w)
			}
		}
	}
}

func TestProblem(t *testing.T) {
	for _, n := range []string{"Cruise Ships", "望遠鏡", "a/b", "🚢"} {
		if p := Problem(n); p != "" {
			t.Errorf("Problem(%q) = %q, want none", n, p)
		}
	}
	for _, n := range []string{"", " ships", "ships ", "a\nb", "a\x00b", "\xff"} {
		if Problem(n) == "" {
			t.Errorf("Problem(%q): want a problem", n)
		}
	}
}

func TestExportFolder(t *testing.T) {
	if !exactOK {
		t.Skip("exact export folders are for Linux")
	}
	for _, tc := range []struct {
		name, want string
		exact      bool
	}{
		{"Cruise Ships", "Cruise Ships", true},
		{"望遠鏡", "望遠鏡", true},
		{"CON", "CON", true},
		{"a/b", "a_b", false},
		{`a\b`, "a_b", false},
		{".hidden", "hidden", false},
		{"..", "class-" + shortHash(".."), false},
	} {
		got, exact := ExportFolder(tc.name)
		if got != tc.want || exact != tc.exact {
			t.Errorf("ExportFolder(%q) = %q, %v; want %q, %v", tc.name, got, exact, tc.want, tc.exact)
		}
	}
	e := NewExporter()
	for _, c := range []string{"Cruise Ships", "a/b", "Cruise Ships"} {
		if _, err := e.Folder(c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Folder("a_b"); err == nil || !strings.Contains(err.Error(), `"a/b" and "a_b"`) {
		t.Errorf("two classes in one export folder: err = %v", err)
	}
	if r := e.Renamed(); len(r) != 1 || r[0] != `"a/b" -> a_b` {
		t.Errorf("Renamed() = %q", r)
	}
}

// FuzzFolder checks what every folder form must be, whatever the name: one
// visible, bounded, valid path element, and its own folder form.
func FuzzFolder(f *testing.F) {
	for _, s := range []string{"Cruise Ships", "望遠鏡", "../etc", "CON", "a/b", "🚢", strings.Repeat("é", 120), ".", "\u0301a", "com1.x.", "x\xffy"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := Folder(name)
		if got == "" || !utf8.ValidString(got) || len(got) > MaxFolderBytes || strings.HasPrefix(got, ".") || strings.HasSuffix(got, ".") ||
			strings.ContainsAny(got, "/\\:*?\"<>| \t\r\n\x00") {
			t.Fatalf("Folder(%q) = %q is not a safe folder name", name, got)
		}
		if again := Folder(got); again != got {
			t.Fatalf("Folder(%q) = %q, but Folder(%q) = %q", name, got, got, again)
		}
	})
}
