package minipay_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// outsideCitation matches a citation of a file a reader of the repository
// cannot open: the project's design notes and provider notes live outside
// it, and their content is in README.md and docs/providers.
var outsideCitation = regexp.MustCompile(`DESIGN(\.md| §)|\.\./shared|shared/providers`)

// providerPage matches a citation of a docs/providers page.
var providerPage = regexp.MustCompile(`docs/providers/[A-Za-z0-9_]+\.md`)

// providerPassage matches a citation of a docs/providers page and, in
// quotes, a section or passage of it: docs/providers/cbtis.md "Endpoints".
var providerPassage = regexp.MustCompile(`(docs/providers/[A-Za-z0-9_]+\.md),? "([^"]+)"`)

// readmeSection matches a citation of a README section by its title:
// README "Merchant API".
var readmeSection = regexp.MustCompile(`README(?:\.md)? "([^"]+)"`)

// TestCitationsOpenInTheRepository: every code comment, script and document
// cites README.md, docs/providers pages or public sources, never a file
// outside the repository; every docs/providers page it cites exists, with
// the section or passage it names in quotes, and every README section it
// names in quotes is a heading of README.
func TestCitationsOpenInTheRepository(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var headings []string
	for line := range strings.Lines(string(readme)) {
		if strings.HasPrefix(line, "#") {
			headings = append(headings, line)
		}
	}
	checked := 0
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// Fuzz corpora are the fuzzer's bytes; testdata's notes and
			// fixtures are read like any file.
			if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") && name != ".ci" || name == "fuzz" && filepath.Base(filepath.Dir(path)) == "testdata" || name == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".sh", ".md", ".example", ".json", ".caddyfiletest", ".xml":
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
			for _, m := range providerPassage.FindAllStringSubmatch(line, -1) {
				if page, err := os.ReadFile(m[1]); err == nil && !strings.Contains(string(page), m[2]) {
					t.Errorf("%s:%d cites %s %q, which the page does not hold", path, i+1, m[1], m[2])
				}
			}
			for _, m := range readmeSection.FindAllStringSubmatch(line, -1) {
				if !slices.ContainsFunc(headings, func(h string) bool { return strings.Contains(h, m[1]) }) {
					t.Errorf("%s:%d cites README %q, which is no heading of README.md", path, i+1, m[1])
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

// vectorToken matches a known answer as a docs/providers page writes it
// between backquotes: a hex digest or key (32 digits or more) or a base64
// signature, ciphertext or envelope (40 characters or more).
var vectorToken = regexp.MustCompile("`([0-9A-Fa-f]{32,}|[A-Za-z0-9+/]{40,}={0,2})`")

// repoPath matches a path of the repository a page names: a package (or
// one of its symbols, transform/wxpay.Sign), a file, a glob, or a test
// fixture under its package's testdata.
var repoPath = regexp.MustCompile("`((?:transform|caddymodule|integration|internal|bench|testdata)/[^` ]+)`")

// testName matches a Go test a page names as the one that checks a vector.
var testName = regexp.MustCompile("`(Test[A-Z][A-Za-z0-9_]*)`")

// goSources maps every Go file of the repository (its own modules
// included, testdata left out) to its text.
func goSources(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files[filepath.ToSlash(path)] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// knownAnswerSection is a page's "## Known-answer vectors" section, up to
// the next "## " heading.
func knownAnswerSection(page string) string {
	_, section, ok := strings.Cut(page, "\n## Known-answer vectors")
	if !ok {
		return ""
	}
	section, _, _ = strings.Cut(section, "\n## ")
	return section
}

// TestDocumentedVectorsAreTestLiterals: every known answer a docs/providers
// page publishes in its "Known-answer vectors" section, written out in full,
// is a literal in a test (a _test.go file, or transform/transformtest, which
// only tests import) of a file that names that page as its source; and
// every test the page names as checking a vector exists, as does every
// file, package and fixture of the repository it names. A vector added to a
// page but to no test, or a test or file renamed under its page, fails here.
func TestDocumentedVectorsAreTestLiterals(t *testing.T) {
	pages, err := filepath.Glob(filepath.Join("docs", "providers", "*.md"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("no docs/providers pages: %v", err)
	}
	sources := goSources(t)
	vectors := 0
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		section := knownAnswerSection(string(b))
		if section == "" {
			t.Errorf("%s has no \"## Known-answer vectors\" section", page)
			continue
		}
		cite := filepath.ToSlash(page)
		for _, m := range vectorToken.FindAllStringSubmatch(section, -1) {
			vectors++
			literal, cited := false, false
			for path, text := range sources {
				if !strings.HasSuffix(path, "_test.go") && !strings.HasPrefix(path, "transform/transformtest/") {
					continue
				}
				if strings.Contains(text, m[1]) {
					literal = true
					cited = cited || strings.Contains(text, cite)
				}
			}
			switch {
			case !literal:
				t.Errorf("%s publishes %s, which no test holds as a literal", page, m[1])
			case !cited:
				t.Errorf("%s publishes %s: the tests that hold it do not name %s as their source", page, m[1], cite)
			}
		}
		for _, m := range repoPath.FindAllStringSubmatch(string(b), -1) {
			path := m[1]
			if dir, symbol, ok := strings.Cut(path, "."); ok && !strings.Contains(symbol, "/") && symbol != "" && symbol[0] >= 'A' && symbol[0] <= 'Z' {
				path = dir // a package's exported symbol
			}
			if strings.HasPrefix(path, "testdata/") {
				path = "transform/*/" + path // a fixture beside its provider package's tests
			}
			if found, err := filepath.Glob(filepath.FromSlash(path)); err != nil || len(found) == 0 {
				t.Errorf("%s names %s, which is not in the repository", page, m[1])
			}
		}
		for _, at := range testName.FindAllStringSubmatchIndex(string(b), -1) {
			m := []string{string(b[at[0]:at[1]]), string(b[at[2]:at[3]])}
			if before := string(b[:at[0]]); strings.HasSuffix(before, "wechatpay-go ") || strings.HasSuffix(before, "gopay ") {
				continue // the SDK's own test, where the vector comes from
			}
			found := false
			for path, text := range sources {
				if strings.HasSuffix(path, "_test.go") && strings.Contains(text, "func "+m[1]+"(") {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("%s names the test %s, which does not exist", page, m[1])
			}
		}
	}
	t.Logf("%d vectors read from docs/providers", vectors)
	if vectors < 20 {
		t.Fatalf("only %d vectors read from docs/providers", vectors)
	}
}

// markdownLink matches a link's target: [text](target).
var markdownLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// inlineCode matches a code span, whose text is no link.
var inlineCode = regexp.MustCompile("`[^`]*`")

// TestMarkdownLinksResolve: every relative link of the repository's
// Markdown opens, as GitHub renders it: the file or directory exists, and
// an anchor (#section, in the page or in another .md) is the slug of one
// of that page's headings (GitHub's rule: headingSlugs). README's table of
// contents and its cross references are such anchors; a heading renamed
// without them leaves a link that scrolls nowhere.
func TestMarkdownLinksResolve(t *testing.T) {
	var pages []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && filepath.Ext(path) == ".md" {
			pages = append(pages, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slugs := map[string]map[string]bool{} // by page
	slugsOf := func(page string) map[string]bool {
		if s, ok := slugs[page]; ok {
			return s
		}
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		slugs[page] = headingSlugs(string(b))
		return slugs[page]
	}
	anchors := 0
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		fenced := false
		for i, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimLeft(line, " "), "```") {
				fenced = !fenced
				continue
			}
			if fenced {
				continue
			}
			for _, m := range markdownLink.FindAllStringSubmatch(inlineCode.ReplaceAllString(line, ""), -1) {
				target := m[1]
				if strings.Contains(target, ":") { // https:, mailto:
					continue
				}
				file, anchor, _ := strings.Cut(target, "#")
				linked := page
				if file != "" {
					linked = filepath.Join(filepath.Dir(page), file)
					if _, err := os.Stat(linked); err != nil {
						t.Errorf("%s:%d links to %s, which does not exist", page, i+1, target)
						continue
					}
				}
				if anchor == "" {
					continue
				}
				anchors++
				if filepath.Ext(linked) != ".md" {
					t.Errorf("%s:%d links to %s: an anchor in a page that is no Markdown", page, i+1, target)
				} else if !slugsOf(linked)[anchor] {
					t.Errorf("%s:%d links to %s, but %s has no heading with that anchor", page, i+1, target, linked)
				}
			}
		}
	}
	if anchors < 40 {
		t.Fatalf("only %d anchors checked", anchors)
	}
}

// headingSlugs returns the anchors GitHub gives a Markdown page's headings
// (outside code blocks): the heading's text (code spans and links as their
// text) in lower case, spaces as hyphens, every character but a letter, a
// digit, a mark, "_" and "-" left out; a repeated slug gets "-1", "-2", ….
func headingSlugs(page string) map[string]bool {
	slugs := map[string]bool{}
	seen := map[string]int{}
	fenced := false
	link := regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	for line := range strings.Lines(page) {
		line = strings.TrimRight(line, "\r\n")
		if strings.HasPrefix(strings.TrimLeft(line, " "), "```") {
			fenced = !fenced
			continue
		}
		level := len(line) - len(strings.TrimLeft(line, "#"))
		if fenced || level == 0 || level > 6 || !strings.HasPrefix(line[level:], " ") {
			continue
		}
		text := link.ReplaceAllString(strings.TrimSpace(line[level:]), "$1")
		var slug strings.Builder
		for _, r := range strings.ToLower(text) {
			switch {
			case r == ' ':
				slug.WriteByte('-')
			case unicode.IsLetter(r), unicode.IsDigit(r), unicode.IsMark(r), r == '_', r == '-':
				slug.WriteRune(r)
			}
		}
		s := slug.String()
		if n := seen[s]; n > 0 {
			slugs[s+"-"+strconv.Itoa(n)] = true
		} else {
			slugs[s] = true
		}
		seen[s]++
	}
	return slugs
}
