package caddymodule

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestEveryProviderIsDocumented keeps README Development's "Adding a
// provider" checklist true for every registered provider, so that a
// provider added as one package plus its registration file fails here until
// the files outside its package are written: its adapt golden, its
// docs/providers page (with its vectors and sources), its row in README's
// module table and its routes in Caddyfile.example. A page for a provider
// that is not registered fails too.
func TestEveryProviderIsDocumented(t *testing.T) {
	read := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	readme, example := read("../README.md"), read("../Caddyfile.example")
	names := providerNames()
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join("testdata", "caddyfile_adapt", name+".caddyfiletest")); err != nil {
				t.Errorf("no adapt golden (step 3): %v", err)
			}
			if page, err := os.ReadFile(filepath.Join("..", "docs", "providers", name+".md")); err != nil {
				t.Errorf("no docs/providers page (step 5): %v", err)
			} else {
				for _, heading := range []string{"\n## Known-answer vectors", "\n## Sources\n"} {
					if !strings.Contains(string(page), heading) {
						t.Errorf("docs/providers/%s.md has no section %q", name, strings.TrimSpace(heading))
					}
				}
			}
			if row := "| `minipay.providers." + name + "` |"; !strings.Contains(readme, row) {
				t.Errorf("README's module table has no row %q (step 6)", row)
			}
			if route := "minipay " + name + " {"; !strings.Contains(example, route) {
				t.Errorf("Caddyfile.example has no %q (step 7)", route)
			}
		})
	}
	pages, err := filepath.Glob(filepath.Join("..", "docs", "providers", "*.md"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("no docs/providers pages: %v", err)
	}
	for _, page := range pages {
		if name := strings.TrimSuffix(filepath.Base(page), ".md"); !slices.Contains(names, name) {
			t.Errorf("docs/providers/%s.md is not a registered provider's page (%v)", name, names)
		}
	}
}

// TestEveryProviderFieldIsDocumented: each provider's field table in README
// (its "| field | required | meaning |" table, under "**`<name>`**" in
// "Provider fields" or in the provider's own "### … (`<name>`)" section)
// names exactly the fields the provider module takes, in Caddyfile and JSON
// alike: an option added to the code but not to the README, or documented
// but not taken, fails here.
func TestEveryProviderFieldIsDocumented(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	names := providerNames()
	documented := map[string][]string{}
	current, inTable := "", false
	for line := range strings.Lines(string(readme)) {
		for _, name := range names {
			if strings.HasPrefix(line, "**`"+name+"`**") || strings.HasPrefix(line, "### ") && strings.Contains(line, "(`"+name+"`)") {
				current = name
			}
		}
		switch {
		case strings.HasPrefix(line, "## "):
			current = ""
		case strings.HasPrefix(line, "| field |"):
			inTable = current != ""
		case !strings.HasPrefix(line, "|"):
			inTable = false
		case inTable && strings.HasPrefix(line, "| `"):
			cell := strings.Split(line, "|")[1]
			for _, part := range strings.Split(cell, "`")[1:] {
				if part = strings.TrimSpace(part); part != "" && part != "," {
					documented[current] = append(documented[current], part)
				}
			}
		}
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			info, err := caddy.GetModule(providerNamespace + "." + name)
			if err != nil {
				t.Fatal(err)
			}
			fields := jsonFieldNames(reflect.TypeOf(info.New()))
			slices.Sort(fields)
			got := slices.Sorted(slices.Values(documented[name]))
			if !slices.Equal(got, fields) {
				t.Errorf("README documents %v, the provider takes %v", got, fields)
			}
		})
	}
}

// TestEveryProviderGodocNamesItsFields keeps step 2 of README's "Adding a
// provider" true: the godoc of each provider module (its
// caddymodule/provider_<package>.go) shows its Caddyfile block, and that
// block names exactly the fields the module takes, as its README table does.
func TestEveryProviderGodocNamesItsFields(t *testing.T) {
	files, err := filepath.Glob("provider_*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no provider files: %v", err)
	}
	blocks := map[string][]string{} // provider name → the fields its godoc block names
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		name := ""
		for line := range strings.Lines(string(src)) {
			line = strings.TrimRight(line, "\n")
			switch {
			case name == "" && strings.HasPrefix(line, "//\tminipay ") && strings.HasSuffix(line, " {"):
				name = strings.TrimSuffix(strings.TrimPrefix(line, "//\tminipay "), " {")
				blocks[name] = []string{}
			case name != "" && line == "//\t}":
				name = ""
			case name != "":
				if f := strings.Fields(strings.TrimPrefix(line, "//")); len(f) > 0 {
					blocks[name] = append(blocks[name], f[0])
				}
			}
		}
	}
	for _, name := range providerNames() {
		t.Run(name, func(t *testing.T) {
			block, ok := blocks[name]
			if !ok {
				t.Fatalf("no provider_*.go godoc shows a \"minipay %s {\" block", name)
			}
			info, err := caddy.GetModule(providerNamespace + "." + name)
			if err != nil {
				t.Fatal(err)
			}
			fields := slices.Sorted(slices.Values(jsonFieldNames(reflect.TypeOf(info.New()))))
			if got := slices.Sorted(slices.Values(block)); !slices.Equal(got, fields) {
				t.Errorf("the godoc block names %v, the provider takes %v", got, fields)
			}
		})
	}
}
