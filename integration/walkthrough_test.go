package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

// TestCaddyfileExampleWalkthrough runs Caddyfile.example itself (ports and
// admin address moved for the test) and follows the README walkthrough:
// login → pay → sandbox complete → the event the merchant backend received,
// then query, refund and close.
// startExample runs Caddyfile.example with its ports, admin address and
// log moved for the test; it returns the merchant and sandbox ports and
// the log file.
func startExample(t *testing.T) (tc *caddytest.Tester, merchant, sandbox int, logFile string) {
	t.Helper()
	merchant, sandbox = freePort(t), freePort(t)
	logFile = filepath.Join(t.TempDir(), "caddy.log")
	return startCaddy(t, exampleConfig(t, merchant, sandbox, logFile, storageDir())), merchant, sandbox, logFile
}

// exampleConfig is Caddyfile.example with its ports, admin address, log
// and storage moved for the test.
func exampleConfig(t *testing.T, merchant, sandbox int, logFile, storage string) string {
	t.Helper()
	example, err := os.ReadFile(filepath.Join("..", "Caddyfile.example"))
	if err != nil {
		t.Fatal(err)
	}
	examples, err := filepath.Abs(filepath.Join("..", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer(
		"admin localhost:2019", "admin "+adminAddr+"\n\tstorage file_system "+storage+"\n\tskip_install_trust\n\tgrace_period 1ns\n\tlog {\n\t\toutput file "+logFile+"\n\t\tformat json\n\t}",
		":8080", ":"+itoa(merchant), ":9090", ":"+itoa(sandbox),
		"{file.examples/", "{file."+examples+"/", // the example's key files, relative to the repository root
	).Replace(string(example))
}

func TestCaddyfileExampleWalkthrough(t *testing.T) {
	tc, merchant, sandbox, logFile := startExample(t)
	base := "http://localhost:" + itoa(merchant)

	login := postJSON(t, tc, base+"/wxlogin/login", `{"code":"walkthrough-1"}`)
	if login.status != 200 {
		t.Fatalf("login: %d %s", login.status, login.body)
	}
	openid := str(login.json(t)["openid"])
	if len(openid) != 28 || login.json(t)["session_key"] != nil {
		t.Fatalf("login answer: %s", login.body)
	}
	if again := postJSON(t, tc, base+"/wxlogin/login", `{"code":"walkthrough-1"}`); again.status != 422 ||
		str(again.errorOf(t)["provider_code"]) != "40163" {
		t.Fatalf("reused code: %d %s", again.status, again.body)
	}

	before := time.Now().Unix()
	pay := postJSON(t, tc, base+"/wechat/pay",
		`{"order_id":"WALK-1","amount":"12.34","currency":"CNY","description":"Latte","openid":"`+openid+`"}`)
	if pay.status != 200 {
		t.Fatalf("pay: %d %s", pay.status, pay.body)
	}
	p := pay.json(t)
	ts, _ := strconv.ParseInt(str(p["timeStamp"]), 10, 64)
	if ts < before || ts > time.Now().Unix() || len(str(p["nonceStr"])) != 32 ||
		!strings.HasPrefix(str(p["package"]), "prepay_id=wx") || p["signType"] != "HMAC-SHA256" ||
		p["provider"] != "wechat_v2" || p["order_id"] != "WALK-1" || p["appId"] != nil {
		t.Fatalf("pay answer: %s", pay.body)
	}
	// paySign as the mini program paySign page states it, not as the plugin computes it
	want := v2Digest("appId="+appID+"&nonceStr="+str(p["nonceStr"])+"&package="+str(p["package"])+
		"&signType=HMAC-SHA256&timeStamp="+str(p["timeStamp"])+"&key="+apiKey, apiKey, "HMAC-SHA256")
	if p["paySign"] != want {
		t.Fatalf("paySign %v, want %s", p["paySign"], want)
	}

	done := postJSON(t, tc, "http://localhost:"+itoa(sandbox)+"/sandbox/complete",
		`{"provider":"wechat_v2","order_id":"WALK-1","result":"succeeded"}`)
	c := done.json(t)
	if done.status != 200 || c["acknowledged"] != true || c["response_body"] != wechatv2.AckBody {
		t.Fatalf("complete: %d %s", done.status, done.body)
	}

	events := do(t, tc, "GET", "http://localhost:"+itoa(sandbox)+"/sandbox/merchant/events", "", nil).json(t)["events"].([]any)
	if len(events) != 1 {
		t.Fatalf("merchant received %d events", len(events))
	}
	rec := events[0].(map[string]any)
	ev := rec["event"].(map[string]any)
	if ev["type"] != "payment.succeeded" || ev["order_id"] != "WALK-1" || ev["amount"] != "12.34" ||
		ev["currency"] != "CNY" || rec["minipay_event_id"] != ev["id"] || rec["minipay_provider"] != "wechat_v2" ||
		!strings.HasPrefix(str(ev["id"]), "wechat_v2:") || !strings.HasSuffix(str(ev["id"]), ":payment.succeeded") {
		t.Fatalf("event: %v", rec)
	}

	q := postJSON(t, tc, base+"/wechat/query", `{"order_id":"WALK-1"}`).json(t)
	if q["status"] != "succeeded" || q["amount"] != "12.34" || q["provider_order_id"] != ev["provider_order_id"] || q["paid_at"] == nil {
		t.Fatalf("query: %v", q)
	}
	refund := postJSON(t, tc, base+"/wechat/refund",
		`{"order_id":"WALK-1","refund_id":"WALK-1-R1","amount":"2.34","currency":"CNY","total_amount":"12.34","reason":"one shot less"}`)
	if r := refund.json(t); refund.status != 200 || r["status"] != "pending" || r["amount"] != "2.34" || str(r["provider_refund_id"]) == "" {
		t.Fatalf("refund: %d %s", refund.status, refund.body)
	}
	// A refund in another currency than the order's: WeChat, and the
	// sandbox, refuse it (refund_fee_type is the payment's or left out).
	other := postJSON(t, tc, base+"/wechat/refund", `{"order_id":"WALK-1","refund_id":"WALK-1-R2","amount":"1.00","currency":"USD","total_amount":"12.34"}`)
	if other.status != 422 || other.errorOf(t)["provider_code"] != "PARAM_ERROR" {
		t.Fatalf("refund in USD of a CNY order: %d %s", other.status, other.body)
	}
	// wechat_v2 refund_query (/pay/refundquery): the refund is PROCESSING
	// until WeChat (here the sandbox) notifies it, then SUCCESS.
	rq := postJSON(t, tc, base+"/wechat/refund_query", `{"refund_id":"WALK-1-R1","order_id":"WALK-1"}`)
	if want := `{"provider":"wechat_v2","order_id":"WALK-1","refund_id":"WALK-1-R1","provider_refund_id":"` +
		str(refund.json(t)["provider_refund_id"]) + `","status":"pending","amount":"2.34","currency":"CNY","provider_status":"PROCESSING"}` + "\n"; rq.status != 200 || string(rq.body) != want {
		t.Fatalf("refund_query: %d %s\nwant %s", rq.status, rq.body, want)
	}
	if r := postJSON(t, tc, "http://localhost:"+itoa(sandbox)+"/sandbox/complete",
		`{"provider":"wechat_v2","order_id":"WALK-1","result":"refunded"}`); r.status != 200 || r.json(t)["acknowledged"] != true {
		t.Fatalf("refund notification: %d %s", r.status, r.body)
	}
	if rq := postJSON(t, tc, base+"/wechat/refund_query", `{"refund_id":"WALK-1-R1"}`).json(t); rq["status"] != "succeeded" || rq["provider_status"] != "SUCCESS" || rq["order_id"] != "WALK-1" {
		t.Fatalf("refund_query after the notification: %v", rq)
	}
	closed := postJSON(t, tc, base+"/wechat/close", `{"order_id":"WALK-1"}`)
	if closed.status != 422 || closed.errorOf(t)["provider_code"] != "ORDERPAID" {
		t.Fatalf("close of a paid order: %d %s", closed.status, closed.body)
	}

	logs := logText(t, logFile)
	for _, secret := range []string{apiKey, appSecret, openid} {
		if strings.Contains(logs, secret) {
			t.Fatalf("the log contains a secret or a clear openid: %s", secret)
		}
	}
	checkOperationLines(t, logs, []string{
		"minipay wechat_login login ok 200 info",
		"minipay wechat_login login provider_rejected 422 warn provider_code=40163",
		"minipay wechat_v2 pay ok 200 info order_id=WALK-1",
		"minipay webhook wechat_v2 webhook acked 200 info order_id=WALK-1",
		"minipay sandbox notification wechat_v2 succeeded 200 true info order_id=WALK-1",
		"minipay wechat_v2 query ok 200 info order_id=WALK-1",
		"minipay wechat_v2 refund ok 200 info order_id=WALK-1",
		"minipay wechat_v2 refund provider_rejected 422 warn order_id=WALK-1 provider_code=PARAM_ERROR",
		"minipay wechat_v2 refund_query ok 200 info order_id=WALK-1",
		"minipay webhook wechat_v2 webhook acked 200 info order_id=WALK-1",
		"minipay sandbox notification wechat_v2 refunded 200 true info order_id=WALK-1",
		"minipay wechat_v2 refund_query ok 200 info", // the request named only the refund
		"minipay wechat_v2 close provider_rejected 422 warn order_id=WALK-1 provider_code=ORDERPAID",
	})
}

// checkOperationLines holds every line of the plugin's handlers (README
// Observability) to want, in order: one per operation of the merchant API
// and per notification received (message, provider, operation, outcome,
// status, level; each has a duration) or sent by the sandbox (message,
// provider, result, status, acknowledged, level; none per emulated API
// call), then order_id and provider_code when the line has them.
func checkOperationLines(t *testing.T, logs string, want []string) {
	t.Helper()
	var got []string
	for line := range strings.Lines(logs) {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil || !strings.HasPrefix(str(l["logger"]), "http.handlers.minipay") {
			continue
		}
		var s string
		if l["msg"] == "minipay sandbox notification" {
			s = fmt.Sprintf("%v %v %v %v %v %v", l["msg"], l["provider"], l["result"], l["status"], l["acknowledged"], l["level"])
		} else {
			if d, ok := l["duration"].(float64); !ok || d < 0 {
				t.Errorf("no duration: %s", line)
			}
			s = fmt.Sprintf("%v %v %v %v %v %v", l["msg"], l["provider"], l["operation"], l["outcome"], l["status"], l["level"])
		}
		for _, k := range []string{"order_id", "provider_code"} {
			if v, ok := l[k]; ok {
				s += fmt.Sprintf(" %s=%v", k, v)
			}
		}
		got = append(got, s)
	}
	if !slices.Equal(got, want) {
		t.Errorf("log lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCaddyfileExampleCompletesWithoutNotifyURL: in Caddyfile.example every
// pay route configures its notify_url, so a merchant body without one (the
// field is optional in README Merchant API) still yields an order that
// /sandbox/complete can notify, and the merchant backend gets the event.
func TestCaddyfileExampleCompletesWithoutNotifyURL(t *testing.T) {
	tc, merchant, sandbox, _ := startExample(t)
	base, sb := "http://localhost:"+itoa(merchant), "http://localhost:"+itoa(sandbox)
	for _, p := range []struct{ provider, route, currency string }{
		{"wechat_v2", "/wechat", "CNY"}, {"wechat_v3", "/wechat_v3", "CNY"},
		{"2c2p", "/2c2p", "SGD"}, {"latipay", "/latipay", "NZD"}, {"cbtis", "/cbtis", "HKD"},
	} {
		t.Run(p.provider, func(t *testing.T) {
			orderID := "NO-URL-" + strings.ToUpper(strings.ReplaceAll(p.provider, "_", ""))
			pay := postJSON(t, tc, base+p.route+"/pay", `{"order_id":"`+orderID+`","amount":"1.00","currency":"`+p.currency+
				`","description":"x","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`)
			if pay.status != 200 {
				t.Fatalf("pay: %d %s", pay.status, pay.body)
			}
			done := postJSON(t, tc, sb+"/sandbox/complete", `{"provider":"`+p.provider+`","order_id":"`+orderID+`","result":"succeeded"}`)
			if c := done.json(t); done.status != 200 || c["acknowledged"] != true {
				t.Fatalf("complete: %d %s", done.status, done.body)
			}
		})
	}
	events := do(t, tc, "GET", sb+"/sandbox/merchant/events", "", nil).json(t)["events"].([]any)
	if len(events) != 5 {
		t.Fatalf("merchant received %d events, want 5", len(events))
	}
}

// TestSandboxReloadIssuesNewReferences: README Sandbox and Clusters, for
// every provider: a notification sent again (the provider's retry) to a
// webhook with dedupe gets the provider's ACK byte for byte and is not
// forwarded again (log outcome duplicate). A configuration load starts the
// sandbox afresh, while the acknowledged event ids stay in the storage; the
// references a sandbox issues (2C2P's tranRef, WeChat's transaction_id,
// CBTIS's order id), which make the event ids, are new after the load too:
// the same payment flow run again on new orders reaches the merchant backend,
// none of it acknowledged as a duplicate of the run before the load.
func TestSandboxReloadIssuesNewReferences(t *testing.T) {
	merchant, sandbox, storage := freePort(t), freePort(t), storageDir()
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	config := exampleConfig(t, merchant, sandbox, logFile, storage)
	for _, p := range []string{"wechat_v2", "wechat_v3", "2c2p", "latipay", "cbtis"} {
		config = strings.Replace(config, "minipay_webhook "+p+" {\n", "minipay_webhook "+p+" {\n\t\t\tdedupe 1h\n", 1)
	}
	base, sb := "http://localhost:"+itoa(merchant), "http://localhost:"+itoa(sandbox)
	for run, grace := range []string{"1ns", "2ns"} { // another grace_period: a configuration Caddy loads anew
		tc := startCaddy(t, strings.Replace(config, "grace_period 1ns", "grace_period "+grace, 1))
		for _, p := range []struct{ provider, route, currency string }{
			{"wechat_v2", "/wechat", "CNY"}, {"wechat_v3", "/wechat_v3", "CNY"},
			{"2c2p", "/2c2p", "SGD"}, {"latipay", "/latipay", "NZD"}, {"cbtis", "/cbtis", "HKD"},
		} {
			orderID := "RUN" + itoa(run) + "-" + strings.ToUpper(strings.ReplaceAll(p.provider, "_", ""))
			if pay := postJSON(t, tc, base+p.route+"/pay", `{"order_id":"`+orderID+`","amount":"1.00","currency":"`+p.currency+
				`","description":"x","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`); pay.status != 200 {
				t.Fatalf("run %d, %s pay: %d %s", run, p.provider, pay.status, pay.body)
			}
			for range 2 { // the notification, then WeChat's, 2C2P's, … retry of it
				done := postJSON(t, tc, sb+"/sandbox/complete", `{"provider":"`+p.provider+`","order_id":"`+orderID+`","result":"succeeded"}`)
				if c := done.json(t); done.status != 200 || c["acknowledged"] != true {
					t.Fatalf("run %d, %s complete: %d %s", run, p.provider, done.status, done.body)
				}
			}
			var received []string
			for _, e := range do(t, tc, "GET", sb+"/sandbox/merchant/events", "", nil).json(t)["events"].([]any) {
				if ev := e.(map[string]any)["event"].(map[string]any); ev["order_id"] == orderID {
					received = append(received, str(ev["id"]))
				}
			}
			if len(received) != 1 {
				t.Errorf("run %d, %s: the merchant backend received %q for %s, want one event", run, p.provider, received, orderID)
			}
		}
	}
	if n := strings.Count(logText(t, logFile), `"outcome":"duplicate"`); n != 10 {
		t.Errorf("%d duplicate log lines, want one per provider and run: 10", n)
	}
}
