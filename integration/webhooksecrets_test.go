package integration

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestWebhookSecretsStayOut drives every provider's webhook through valid,
// refused, oversized and wrong-method notifications and a failing merchant
// backend, with Caddy logging at DEBUG and an access log, then reads the
// logs and the admin endpoint's /metrics: no configured secret appears (nor
// wechat_v2's refund key, MD5 of api_key, nor a line of the v3 merchant
// key), and no log line of a notification that was not verified names an
// order, an event or a type, as if it were known (README Observability).
func TestWebhookSecretsStayOut(t *testing.T) {
	var merchantStatus atomic.Int32
	merchantStatus.Store(200)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(merchantStatus.Load()))
	}))
	defer backend.Close()
	dir := t.TempDir()
	logFile, accessLog := filepath.Join(dir, "caddy.log"), filepath.Join(dir, "access.log")
	global := strings.Replace(globalOptions(logFile), "\t\tformat json\n", "\t\tformat json\n\t\tlevel DEBUG\n", 1)
	port := itoa(freePort(t))
	// Every secret as README Secrets advises, an {env.*} placeholder: one
	// written literally is in the configuration, which Caddy itself logs at
	// DEBUG ("adjusted config").
	routes := allWebhookRoutes(t, "/hook", strings.TrimPrefix(backend.URL, "http://"))
	for name, secret := range map[string]string{"V2": apiKey, "V3": v3APIv3Key, "LATIPAY": latipayAPIKey, "CBTIS": cbtisAPIKey, "TWOC2P": twoc2pKey} {
		t.Setenv("MINIPAY_TEST_"+name, secret)
		routes = strings.ReplaceAll(routes, " "+secret+"\n", " {env.MINIPAY_TEST_"+name+"}\n")
	}
	tc := startCaddy(t, global+":"+port+" {\n\tlog {\n\t\toutput file "+accessLog+"\n\t\tformat json\n\t}\n"+routes+"}\n")

	post := func(p webhookProvider, body string, header http.Header) int {
		status, _ := send(t, notificationRequest("http://localhost:"+port+"/hook/"+p.name, p.contentType, header, body))
		return status
	}
	for _, p := range webhookProviders(t) {
		body, header := p.notification()
		if status := post(p, body, header); status != 200 {
			t.Fatalf("%s: a valid notification got %d", p.name, status)
		}
		merchantStatus.Store(500)
		if status := post(p, body, header); status != 502 {
			t.Fatalf("%s: a failing merchant gave %d", p.name, status)
		}
		merchantStatus.Store(200)
		refused := []string{
			strings.Replace(body, "1", "2", 1), // one byte changed
			"<xml><return_code>SUCCESS</return_code></xml>",
			body + strings.Repeat(" ", 65<<10), // over 64 KiB
		}
		for _, b := range refused {
			if status := post(p, b, header); status == 200 {
				t.Fatalf("%s: %.40q was acknowledged", p.name, b)
			}
		}
		if header != nil { // v3, CBTIS: the signature headers left out
			if status := post(p, body, nil); status != 401 {
				t.Fatalf("%s: unsigned, got %d", p.name, status)
			}
		}
		get, _ := http.NewRequest(http.MethodGet, "http://localhost:"+port+"/hook/"+p.name, nil)
		if status, _ := send(t, get); status != 405 {
			t.Fatalf("%s: GET got %d", p.name, status)
		}
	}
	metrics := do(t, tc, http.MethodGet, "http://"+adminAddr+"/metrics", "", nil).body

	refundKey := md5.Sum([]byte(apiKey))
	secrets := map[string]string{
		"wechat_v2 api_key": apiKey, "wechat_v2 refund key": hex.EncodeToString(refundKey[:]), "wechat_v3 api_v3_key": v3APIv3Key,
		"latipay api_key": latipayAPIKey, "cbtis api_key": cbtisAPIKey, "2c2p secret_key": twoc2pKey,
	}
	pem, err := os.ReadFile(v3KeyPath(t, "apiclient_key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	secrets["wechat_v3 private_key"] = strings.Split(string(pem), "\n")[1]
	texts := map[string]string{"/metrics": string(metrics)}
	for _, f := range []string{logFile, accessLog} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		texts[filepath.Base(f)] = string(b)
	}
	for where, text := range texts {
		for name, secret := range secrets {
			if strings.Contains(text, secret) || strings.Contains(strings.ToUpper(text), strings.ToUpper(secret)) {
				t.Errorf("%s holds the %s", where, name)
			}
		}
	}

	refusals := 0
	lines := bufio.NewScanner(strings.NewReader(texts["caddy.log"]))
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		var entry map[string]any
		if json.Unmarshal(lines.Bytes(), &entry) != nil || entry["msg"] != "minipay webhook" {
			continue
		}
		if outcome := entry["outcome"]; outcome == "unverified" || outcome == "too_large" {
			refusals++
			for _, field := range []string{"order_id", "event_id", "type"} {
				if v, ok := entry[field]; ok {
					t.Errorf("an %s notification's log line has %s %v: %s", outcome, field, v, lines.Text())
				}
			}
		}
	}
	if refusals < 5*4 {
		t.Fatalf("%d log lines of refused notifications, want at least 20", refusals)
	}
}
