package minipay_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/minipay/caddy-minipay"
)

type manifest struct {
	CaddyVersion string   `json:"caddy_version"`
	GoModule     string   `json:"go_module"`
	GoPackage    string   `json:"go_package"`
	Build        string   `json:"build"`
	Modules      []string `json:"modules"`
	Directives   []struct {
		Name       string `json:"name"`
		Module     string `json:"module"`
		Order      string `json:"order"`
		RelativeTo string `json:"relative_to"`
	} `json:"directives"`
}

func readManifest(t *testing.T) manifest {
	t.Helper()
	b, err := os.ReadFile("xcaddy.json")
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("xcaddy.json: %v", err)
	}
	return m
}

// TestManifestMatchesGoMod keeps xcaddy.json's versions and paths equal to go.mod's.
func TestManifestMatchesGoMod(t *testing.T) {
	m := readManifest(t)
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	module := regexp.MustCompile(`(?m)^module\s+(\S+)`).FindSubmatch(gomod)
	if module == nil || string(module[1]) != m.GoModule || m.GoPackage != m.GoModule {
		t.Fatalf("go.mod module %q, xcaddy.json go_module %q go_package %q", module, m.GoModule, m.GoPackage)
	}
	caddyReq := regexp.MustCompile(`(?m)^\s*(?:require\s+)?github\.com/caddyserver/caddy/v2\s+(v\S+)`).FindSubmatch(gomod)
	if caddyReq == nil || string(caddyReq[1]) != m.CaddyVersion {
		t.Fatalf("go.mod requires caddy %q, xcaddy.json says %q", caddyReq, m.CaddyVersion)
	}
	if want := "xcaddy build " + m.CaddyVersion + " --with " + m.GoModule; m.Build != want {
		t.Fatalf("build %q, want %q", m.Build, want)
	}
}

// TestManifestListsRegisteredModules: every module the plugin registers is
// listed, and every listed module is registered. A module is the plugin's when
// a segment of its ID starts with "minipay" (http.handlers.minipay_webhook,
// minipay.providers.cbtis, admin.api.minipay), whatever namespace it is in.
func TestManifestListsRegisteredModules(t *testing.T) {
	m := readManifest(t)
	var registered []string
	for _, id := range caddy.Modules() {
		if slices.ContainsFunc(strings.Split(id, "."), func(seg string) bool { return strings.HasPrefix(seg, "minipay") }) {
			registered = append(registered, id)
		}
	}
	listed := slices.Clone(m.Modules)
	slices.Sort(listed)
	slices.Sort(registered)
	if !slices.Equal(listed, registered) {
		t.Fatalf("xcaddy.json lists %v, the plugin registers %v", listed, registered)
	}
}

// TestReadmeModulesTable: README's "Modules and directives" table names
// every module the plugin registers, and only those (the minipay app was
// added to xcaddy.json without a test keeping the table in step).
func TestReadmeModulesTable(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n### Modules and directives\n")
	if !ok {
		t.Fatal(`README has no "### Modules and directives" section`)
	}
	section, _, _ = strings.Cut(section, "\n#")
	var tabled []string
	for _, row := range regexp.MustCompile("(?m)^\\| `([^`]+)` \\|").FindAllStringSubmatch(section, -1) {
		tabled = append(tabled, row[1])
	}
	listed := slices.Clone(readManifest(t).Modules) // equal to the registered ones (above)
	slices.Sort(listed)
	slices.Sort(tabled)
	if !slices.Equal(tabled, listed) {
		t.Fatalf("README's modules table names %v, the plugin registers %v", tabled, listed)
	}
}

// TestManifestDirectives adapts a Caddyfile that writes each directive after
// the one it must precede, and checks the adapter put it first.
func TestManifestDirectives(t *testing.T) {
	m := readManifest(t)
	others := map[string]string{"reverse_proxy": "reverse_proxy 127.0.0.1:9", "respond": "respond 200"}
	blocks := map[string]string{
		"minipay":         "minipay wechat_login {\n app_id wx1\n app_secret s\n}",
		"minipay_webhook": "minipay_webhook wechat_v2 {\n app_id wx1\n mch_id 1\n api_key 0123456789abcdef0123456789abcdef\n}",
		"minipay_sandbox": "minipay_sandbox {\n wechat_login {\n app_id wx1\n app_secret s\n }\n}",
	}
	if len(m.Directives) != len(blocks) {
		t.Fatalf("xcaddy.json lists %d directives, want %d", len(m.Directives), len(blocks))
	}
	for _, d := range m.Directives {
		t.Run(d.Name, func(t *testing.T) {
			other, ok := others[d.RelativeTo]
			block, known := blocks[d.Name]
			if !ok || !known || d.Order != "before" {
				t.Fatalf("unexpected directive entry %+v", d)
			}
			src := ":8080 {\n" + other + "\n" + block + "\n}\n"
			adapter := caddyfile.Adapter{ServerType: httpcaddyfile.ServerType{}}
			out, _, err := adapter.Adapt([]byte(src), nil)
			if err != nil {
				t.Fatalf("adapting: %v", err)
			}
			handler := strings.TrimPrefix(d.Module, "http.handlers.")
			first := strings.Index(string(out), `"handler":"`+handler+`"`)
			second := strings.Index(string(out), `"handler":"`+strings.ReplaceAll(d.RelativeTo, "respond", "static_response")+`"`)
			if first < 0 || second < 0 || first > second {
				t.Fatalf("%s is not ordered before %s: %s", d.Name, d.RelativeTo, out)
			}
		})
	}
}
