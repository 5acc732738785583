package wechatpay

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"strconv"
	"strings"
	"testing"
)

// sandboxEnv is a running Caddy with minipay_sandbox playing WeChat Pay v3
// at the base URL sandbox.
type sandboxEnv struct {
	sandbox string
}

// wechatV3Sandbox is the sandbox's wechat_v3 block: WeChat Pay with the
// platform key, answering in public-key mode for public_key_id and under
// its certificate's serial otherwise.
func wechatV3Sandbox(t testing.TB, extra ...string) string {
	return `
		wechat_v3 {
			app_id ` + appID + `
			mch_id ` + mchID + `
			serial_no ` + merchantSerial + `
			private_key {file.` + keyPath(t, "apiclient_key.pem") + `}
			api_v3_key ` + apiV3Key + `
			public_key_id ` + publicKeyID + `
			platform_private_key {file.` + keyPath(t, "wechatpay_platform_key.pem") + `}
			platform_certificate {file.` + keyPath(t, "wechatpay_platform_cert.pem") + `}` + strings.Join(extra, "") + `
		}`
}

// startSandbox starts Caddy with minipay_sandbox (wechat_v3) on one port;
// extra adds lines to its wechat_v3 block.
func startSandbox(t *testing.T, extra ...string) sandboxEnv {
	t.Helper()
	sandboxPort := freePort(t)
	env := sandboxEnv{sandbox: "http://localhost:" + strconv.Itoa(sandboxPort)}
	startCaddy(t, `
:`+strconv.Itoa(sandboxPort)+` {
	minipay_sandbox {`+wechatV3Sandbox(t, extra...)+`
	}
}
`)
	return env
}

// complete asks the sandbox to settle an order, which sends WeChat's
// notification to the order's notify_url, and returns its report.
func (e sandboxEnv) complete(t *testing.T, orderID, result string) map[string]any {
	t.Helper()
	status, body := post(t, e.sandbox+"/sandbox/complete", `{"provider":"wechat_v3","order_id":"`+orderID+`","result":"`+result+`"}`)
	if status != 200 {
		t.Fatalf("/sandbox/complete answered %d: %s", status, body)
	}
	return object(t, body)
}

// selfSigned is a certificate with the serial of like but the public key
// of key: a key the sandbox does not sign with, under the serial it
// announces.
func selfSigned(t *testing.T, key *rsa.PrivateKey, like *x509.Certificate) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: like.SerialNumber, Subject: like.Subject, NotBefore: like.NotBefore, NotAfter: like.NotAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
