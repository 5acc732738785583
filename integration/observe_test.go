package integration

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCertificateDownloadFailureLogged: in certificate mode, a download of
// the platform certificates that fails is a WARN line saying why (README
// Observability), beside the webhook's own line, which only says the
// notification did not verify.
func TestCertificateDownloadFailureLogged(t *testing.T) {
	wechat := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusUnauthorized) // as WeChat answers a merchant whose serial_no it does not know
	}))
	defer wechat.Close()
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		t.Error("an unverified notification reached the merchant")
	}))
	defer merchant.Close()
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(logFile)+":"+port+" {\n\tminipay_webhook wechat_v3 {\n"+
		v3Merchant(t, "\t\tcertificates_url "+wechat.URL+"/v3/certificates\n")+"\t}\n\treverse_proxy "+strings.TrimPrefix(merchant.URL, "http://")+"\n}\n")

	req, _ := http.NewRequest(http.MethodPost, "http://localhost:"+port+"/webhooks/wechat_v3", strings.NewReader(`{"id":"EV-1"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Wechatpay-Serial", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1")
	req.Header.Set("Wechatpay-Timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	req.Header.Set("Wechatpay-Nonce", "n0nce")
	req.Header.Set("Wechatpay-Signature", base64.StdEncoding.EncodeToString(make([]byte, 256)))
	res, err := tc.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("HTTP %d, want 401", res.StatusCode)
	}
	var download, webhook map[string]any
	logs := logText(t, logFile)
	for line := range strings.Lines(logs) {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		switch l["msg"] {
		case "minipay: platform certificate download failed":
			download = l
		case "minipay webhook":
			webhook = l
		}
	}
	if download == nil || download["level"] != "warn" || download["provider"] != "wechat_v3" ||
		!strings.HasSuffix(str(download["error"]), "could not be downloaded: certificates_url answered HTTP 401") {
		t.Errorf("download line %v", download)
	}
	if webhook == nil || webhook["outcome"] != "unverified" {
		t.Errorf("webhook line %v", webhook)
	}
	if strings.Contains(logs, v3APIv3Key) {
		t.Error("the log holds api_v3_key")
	}
}
