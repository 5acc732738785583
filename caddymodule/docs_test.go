package caddymodule

import (
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/minipay/caddy-minipay/transform"
)

// TestEveryProviderIsDocumented keeps README Development's "Adding a
// provider" checklist true for every registered provider, so that a
// provider added as one package plus its registration file fails here until
// the files outside its package are written: its adapt golden, its
// docs/providers page (with its vectors and sources), its row in README's
// module table, its routes in Caddyfile.example and its integration test
// file; the page has its endpoints, signature, notification (for a provider
// that notifies), vectors and sources sections. A page for a provider that is not registered fails too.
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
			info, err := caddy.GetModule(providerNamespace + "." + name)
			if err != nil {
				t.Fatal(err)
			}
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
				// Step 5: its calls, its signature rules (or that nothing
				// is signed) and, when it notifies, its notifications.
				if !strings.Contains(string(page), "\n## Endpoint") && !strings.Contains(string(page), "\n## Operations") {
					t.Errorf("docs/providers/%s.md has no section \"## Endpoints\" (or \"## Operations\")", name)
				}
				if !regexp.MustCompile(`\n## [^\n]*[Ss]ignature`).MatchString(string(page)) && !strings.Contains(string(page), "Nothing is signed") {
					t.Errorf("docs/providers/%s.md has no signature section, nor says \"Nothing is signed\"", name)
				}
				if _, ok := info.New().(webhookProvider); ok && !strings.Contains(string(page), "\n## Notifications") {
					t.Errorf("docs/providers/%s.md has no section \"## Notifications\", and %s has a minipay_webhook side", name, name)
				}
			}
			if row := "| `minipay.providers." + name + "` |"; !strings.Contains(readme, row) {
				t.Errorf("README's module table has no row %q (step 6)", row)
			}
			if route := "minipay " + name + " {"; !strings.Contains(example, route) {
				t.Errorf("Caddyfile.example has no %q (step 7)", route)
			}
			// Step 9's file is named by the provider's transform package,
			// the one the module's embedded Config comes from.
			config := reflect.TypeOf(info.New()).Elem().Field(0).Type.PkgPath()
			if test := filepath.Join("..", "integration", path.Base(config)+"_test.go"); !strings.HasPrefix(config, "github.com/minipay/caddy-minipay/transform/") {
				t.Errorf("the module does not embed its transform package's Config first (step 2): %s", config)
			} else if _, err := os.Stat(test); err != nil {
				t.Errorf("no test through a real Caddy (step 9): %v", err)
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
// alike, and its "required" column says which handlers need each one as
// the load checks it ("yes": all three; "minipay", "minipay_webhook",
// "sandbox" listed; "no" or a key-source rule: none unconditionally): an
// option added to the code but not to the README, documented but not taken,
// or required otherwise than documented fails here.
func TestEveryProviderFieldIsDocumented(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	names := providerNames()
	documented := map[string]map[string]string{} // provider → field → its "required" cell
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
			cells := strings.Split(line, "|")
			for _, part := range strings.Split(cells[1], "`")[1:] {
				if part = strings.TrimSpace(part); part != "" && part != "," {
					if documented[current] == nil {
						documented[current] = map[string]string{}
					}
					documented[current][part] = strings.TrimSpace(cells[2])
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
			if got := slices.Sorted(maps.Keys(documented[name])); !slices.Equal(got, fields) {
				t.Fatalf("README documents %v, the provider takes %v", got, fields)
			}
			for _, f := range info.New().(provider).ConfigFields() {
				want := documentedRoles(documented[name][f.Name])
				if got := slices.Sorted(slices.Values(f.Required)); !slices.Equal(got, want) {
					t.Errorf("field %s: README's required column %q says roles %v, the load requires %v",
						f.Name, documented[name][f.Name], want, got)
				}
			}
		})
	}
}

// documentedRoles reads a cell of README's required column: "yes" (also
// "yes (all three)") is every role, "no" or a rule between fields ("one key
// source") none, else the handlers it lists before any ";" ("`minipay`,
// sandbox", "minipay_webhook, sandbox, certificate mode": a condition is no
// role).
func documentedRoles(cell string) []transform.Role {
	if strings.HasPrefix(cell, "yes") {
		return transform.AllRoles
	}
	cell, _, _ = strings.Cut(cell, ";")
	var roles []transform.Role
	for part := range strings.SplitSeq(cell, ",") {
		switch strings.Trim(strings.TrimSpace(part), "`") {
		case "minipay":
			roles = append(roles, transform.RoleClient)
		case "minipay_webhook":
			roles = append(roles, transform.RoleWebhook)
		case "sandbox", "sandbox only":
			roles = append(roles, transform.RoleSandbox)
		}
	}
	slices.Sort(roles)
	return roles
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
