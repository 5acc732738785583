package minipay_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// outsideCitation matches a citation of a file a reader of the repository
// cannot open: the project's design notes and provider notes live outside
// it, and their content is in README.md and docs/providers.
var outsideCitation = regexp.MustCompile(`DESIGN(\.md| §)|\.\./shared|shared/providers`)

// providerPage matches a citation of a docs/providers page.
var providerPage = regexp.MustCompile(`docs/providers/[A-Za-z0-9_]+\.md`)

// TestCitationsOpenInTheRepository: every code comment, script and document
// cites README.md, docs/providers pages or public sources, never a file
// outside the repository, and every docs/providers page it cites exists.
func TestCitationsOpenInTheRepository(t *testing.T) {
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") && name != ".ci" || name == "testdata" || name == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".sh", ".md", ".example", ".json":
		default:
			if filepath.Base(path) != "run" {
				return nil
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		for i, line := range strings.Split(string(b), "\n") {
			if m := outsideCitation.FindString(line); m != "" && path != "citations_test.go" {
				t.Errorf("%s:%d cites %q, a file outside the repository", path, i+1, m)
			}
			for _, page := range providerPage.FindAllString(line, -1) {
				if _, err := os.Stat(page); err != nil {
					t.Errorf("%s:%d cites %s, which does not exist", path, i+1, page)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("only %d files checked", checked)
	}
}

// TestProviderPackagesCiteTheirPage: the package doc of every provider
// package (a transform sub-package with a config.go) names its
// docs/providers page, where its wire format, sources and vectors are.
func TestProviderPackagesCiteTheirPage(t *testing.T) {
	configs, err := filepath.Glob(filepath.Join("transform", "*", "config.go"))
	if err != nil || len(configs) == 0 {
		t.Fatalf("no provider package: %v", err)
	}
	for _, config := range configs {
		f, err := parser.ParseFile(token.NewFileSet(), config, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if f.Doc == nil || !providerPage.MatchString(f.Doc.Text()) {
			t.Errorf("%s: the package doc names no docs/providers page", config)
		}
	}
}
