package minipay_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLayering keeps README Development's architecture true in the source,
// tests included: transform imports no Caddy, and no provider package
// imports another — what providers share lives in transform, transform/wxpay
// (WeChat's signatures) and transform/transformtest (their tests' helpers),
// which import no provider either.
func TestLayering(t *testing.T) {
	const module = "github.com/minipay/caddy-minipay/"
	shared := map[string]bool{"transform": true, "transform/wxpay": true, "transform/transformtest": true}
	files := 0
	err := filepath.WalkDir("transform", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		pkg := filepath.ToSlash(filepath.Dir(path))
		for _, spec := range f.Imports {
			imp, _ := strconv.Unquote(spec.Path.Value)
			if strings.HasPrefix(imp, "github.com/caddyserver/") {
				t.Errorf("%s imports %s: transform never imports Caddy", path, imp)
			}
			dep, ours := strings.CutPrefix(imp, module)
			if ours && !shared[dep] && dep != pkg {
				t.Errorf("%s imports %s: a provider package imports only the shared kit (transform, transform/wxpay, transform/transformtest)", path, imp)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("only %d files read under transform/", files)
	}
}

// TestLayeringOfTheAdapter keeps README Development's
// "nothing else in caddymodule names a provider": outside its tests, a
// provider package is imported only by its registration file
// (provider_<package>.go), so that a provider is added as its package plus
// one registration, and the handlers, sandbox, console, admin API, verify
// and sign work through the kit's interfaces alone.
func TestLayeringOfTheAdapter(t *testing.T) {
	const module = "github.com/minipay/caddy-minipay/"
	shared := map[string]bool{"transform": true, "transform/wxpay": true}
	files, err := filepath.Glob(filepath.Join("caddymodule", "*.go"))
	if err != nil || len(files) < 10 {
		t.Fatalf("caddymodule: %d files, %v", len(files), err)
	}
	for _, path := range files {
		base := filepath.Base(path)
		if strings.HasSuffix(base, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, spec := range f.Imports {
			imp, _ := strconv.Unquote(spec.Path.Value)
			dep, ours := strings.CutPrefix(imp, module)
			if !ours || !strings.HasPrefix(dep, "transform/") || shared[dep] {
				continue
			}
			if want := "provider_" + filepath.Base(dep) + ".go"; base != want {
				t.Errorf("%s imports the provider package %s: only %s may", path, imp, want)
			}
		}
	}
}
