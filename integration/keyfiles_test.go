package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeyFilesAsMerchantsHaveThem: README Secrets and wechat_v3, through a
// real Caddy against minipay_sandbox: the key files a merchant has load as
// they are and every call signs right. wechat_v3's private_key is the
// bundle openssl pkcs12 -nodes makes of apiclient_cert.p12 (bag
// attributes, the certificate, then the key) with CRLF lines, its
// public_key CRLF too; api_v3_key and wechat_v2's api_key are files of
// every printable symbol ending in one line ending (\r\n, \n), which Caddy's
// {file.*} trims.
func TestKeyFilesAsMerchantsHaveThem(t *testing.T) {
	dir := t.TempDir()
	read := func(name string) string {
		b, err := os.ReadFile(v3KeyPath(t, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	crlf := strings.NewReplacer("\n", "\r\n").Replace
	bundle := write("apiclient_key.pem", crlf("Bag Attributes\n    localKeyID: 9F 1B 22 0C\n    friendlyName: Tenpay Certificate\n"+
		"subject=CN = "+mchID+"\n"+read("apiclient_cert.pem")+"Bag Attributes\n    localKeyID: 9F 1B 22 0C\nKey Attributes: <No Attributes>\n"+
		read("apiclient_key.pem")))
	publicKey := write("pub_key.pem", crlf(read("wechatpay_pub_key.pem")))
	const v3Key = `v3K+/=.-_~!@#$%^&*(){}[]<>?:;,|Q` // 32 bytes
	const v2Key = `Ab3$%^&*()_+-=[]{};:,.<>/?~|x9Z!` // 32 bytes
	v3KeyFile, v2KeyFile := write("apiv3_key", v3Key+"\r\n"), write("api_key", v2Key+"\n")

	merchant, sandbox := itoa(freePort(t)), itoa(freePort(t))
	v3 := "\t\tapp_id " + appID + "\n\t\tmch_id " + mchID + "\n\t\tserial_no " + v3Serial + "\n\t\tapi_v3_key {file." + v3KeyFile + "}\n"
	v2 := "\t\tapp_id " + appID + "\n\t\tmch_id " + mchID + "\n\t\tapi_key {file." + v2KeyFile + "}\n"
	tc := startCaddy(t, globalOptions(filepath.Join(dir, "caddy.log"))+`:`+merchant+` {
	handle /v3/* {
		minipay wechat_v3 {
`+v3+`		private_key {file.`+bundle+`}
		public_key {file.`+publicKey+`}
		public_key_id `+v3PublicKeyID+`
		notify_url http://localhost:`+merchant+`/hooks/v3
		}
		reverse_proxy localhost:`+sandbox+`
	}
	handle /hooks/v3 {
		minipay_webhook wechat_v3 {
`+v3+`		public_key {file.`+publicKey+`}
		public_key_id `+v3PublicKeyID+`
		}
		rewrite * /sandbox/merchant/events
		reverse_proxy localhost:`+sandbox+`
	}
	handle /v2/* {
		minipay wechat_v2 {
`+v2+`		sign_type HMAC-SHA256
		notify_url http://localhost:`+merchant+`/hooks/v2
		}
		reverse_proxy localhost:`+sandbox+`
	}
	handle /hooks/v2 {
		minipay_webhook wechat_v2 {
`+v2+`		sign_type HMAC-SHA256
		}
		rewrite * /sandbox/merchant/events
		reverse_proxy localhost:`+sandbox+`
	}
}
:`+sandbox+` {
	bind 127.0.0.1
	minipay_sandbox {
		wechat_v3 {
`+v3+`		private_key {file.`+v3KeyPath(t, "apiclient_key.pem")+`}
		platform_private_key {file.`+v3KeyPath(t, "wechatpay_platform_key.pem")+`}
		public_key_id `+v3PublicKeyID+`
		}
		wechat_v2 {
			app_id `+appID+`
			mch_id `+mchID+`
			api_key "`+v2Key+`"
		}
	}
}
`)
	base, sb := "http://localhost:"+merchant, "http://localhost:"+sandbox
	for _, route := range []struct{ path, provider string }{{"/v3", "wechat_v3"}, {"/v2", "wechat_v2"}} {
		order := "KEYFILES-" + route.provider
		pay := postJSON(t, tc, base+route.path+"/pay", `{"order_id":"`+order+`","amount":"12.30","currency":"CNY","description":"d","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","client_ip":"10.0.0.7"}`)
		if p := pay.json(t); pay.status != 200 || !strings.HasPrefix(str(p["package"]), "prepay_id=") {
			t.Fatalf("%s pay: %d %s", route.provider, pay.status, pay.body)
		}
		done := postJSON(t, tc, sb+"/sandbox/complete", `{"provider":"`+route.provider+`","order_id":"`+order+`","result":"succeeded"}`)
		if c := done.json(t); done.status != 200 || c["acknowledged"] != true {
			t.Fatalf("%s complete: %d %s", route.provider, done.status, done.body)
		}
		if q := postJSON(t, tc, base+route.path+"/query", `{"order_id":"`+order+`"}`).json(t); q["status"] != "succeeded" || q["amount"] != "12.30" {
			t.Fatalf("%s query: %v", route.provider, q)
		}
	}
}
