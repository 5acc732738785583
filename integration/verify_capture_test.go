package integration

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// captureRequests listens on a free port and keeps every request it gets
// byte for byte, head and body, as nc -l or a packet capture saves it; it
// answers each with an empty 200. It returns the port and a function that
// waits for the n-th capture (from 1).
func captureRequests(t *testing.T) (int, func(n int) []byte) {
	t.Helper()
	port := freePort(t)
	ln, err := net.Listen("tcp", "127.0.0.1:"+itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	got := sync.NewCond(&mu)
	var captured [][]byte
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				var raw bytes.Buffer
				r := bufio.NewReader(io.TeeReader(conn, &raw))
				length := -1
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if line == "\r\n" {
						break
					}
					if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Length") {
						length, _ = strconv.Atoi(strings.TrimSpace(v))
					}
				}
				if length < 0 || func() error { _, err := io.ReadFull(r, make([]byte, length)); return err }() != nil {
					return
				}
				// What the reader took from the connection is the request:
				// the sender waits for the answer before sending more.
				mu.Lock()
				captured = append(captured, raw.Bytes()[:raw.Len()-r.Buffered()])
				got.Broadcast()
				mu.Unlock()
				_, _ = conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			}()
		}
	}()
	return port, func(n int) []byte {
		mu.Lock()
		defer mu.Unlock()
		for len(captured) < n {
			got.Wait()
		}
		return captured[n-1]
	}
}

// A notification saved as the HTTP request it came in (README "caddy
// minipay verify": the input may be the whole HTTP message) is explained
// by the built `caddy minipay verify` as the webhook would judge it, for
// every provider: the sandbox of Caddyfile.example sends each provider's
// notification to a listener that keeps the raw bytes; verify reads the
// headers the provider signs in (CBTIS's Signature, v3's Wechatpay-*)
// from the message, valid, exit 0; the same message with one byte of its
// body changed is invalid, exit 1.
func TestVerifyCapturedHTTPRequests(t *testing.T) {
	bin := buildCaddy(t, t.TempDir())
	capturePort, capture := captureRequests(t)
	merchant, sandbox := freePort(t), freePort(t)
	config := strings.ReplaceAll(exampleConfig(t, merchant, sandbox, filepath.Join(t.TempDir(), "caddy.log"), storageDir()),
		"notify_url http://localhost:"+itoa(merchant)+"/webhooks/", "notify_url http://localhost:"+itoa(capturePort)+"/webhooks/")
	tc := startCaddy(t, config)
	pub, err := filepath.Abs(filepath.Join("..", "examples", "keys", "wechatpay_pub_key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	// Caddyfile.example's keys, given as the README says: through {env.*}.
	env := []string{"T_V2_KEY=8934e7d15453e97507ef794cf7b0519d", "T_V3_KEY=sandbox-apiv3-key-0123456789abcd",
		"T_2C2P_KEY=7jYcp4FxFdf0", "T_LATIPAY_KEY=lp-sandbox-3f9a1c7e5b2d4086", "T_CBTIS_KEY=6d0e8fa7b10c40c3a48c0c2be41cb178"}
	for i, p := range []struct {
		route, provider, order, amount, currency, tamper string
		sets                                             []string
	}{
		{"wechat", "wechat_v2", "CAP-V2", "12.34", "CNY", "1234",
			[]string{"app_id=wx8888888888888888", "mch_id=1900000109", "api_key={env.T_V2_KEY}", "sign_type=HMAC-SHA256"}},
		{"wechat_v3", "wechat_v3", "CAP-V3", "12.30", "CNY", "resource",
			[]string{"app_id=wx8888888888888888", "mch_id=1900000109", "api_v3_key={env.T_V3_KEY}", "public_key={file." + pub + "}",
				"public_key_id=PUB_KEY_ID_0119000001092026112900000000000001"}},
		{"2c2p", "2c2p", "CAP-2C2P", "12.34", "SGD", "paymentResponse=PFBhe",
			[]string{"merchant_id=JT01", "secret_key={env.T_2C2P_KEY}"}},
		{"latipay", "latipay", "CAP-LATI", "12.30", "NZD", "12.30", []string{"api_key={env.T_LATIPAY_KEY}", "currency=NZD"}},
		{"cbtis", "cbtis", "CAP-CBTIS", "12.30", "HKD", "12.30", []string{"api_key={env.T_CBTIS_KEY}"}},
	} {
		t.Run(p.provider, func(t *testing.T) {
			if res := postJSON(t, tc, "http://localhost:"+itoa(merchant)+"/"+p.route+"/pay", `{"order_id":"`+p.order+`","amount":"`+p.amount+
				`","currency":"`+p.currency+`","description":"d","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`); res.status != 200 {
				t.Fatalf("pay: %d %s", res.status, res.body)
			}
			if res := postJSON(t, tc, "http://localhost:"+itoa(sandbox)+"/sandbox/complete",
				`{"provider":"`+p.provider+`","order_id":"`+p.order+`","result":"succeeded"}`); res.status != 200 || res.json(t)["delivered"] != true {
				t.Fatalf("complete: %d %s", res.status, res.body)
			}
			raw := capture(i + 1)
			if !bytes.HasPrefix(raw, []byte("POST /webhooks/"+p.provider+" HTTP/1.1\r\n")) {
				t.Fatalf("capture %d is not %s's notification: %q", i+1, p.provider, raw)
			}
			head, body, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
			at := bytes.Index(body, []byte(p.tamper))
			if at < 0 {
				t.Fatalf("no %q in the body to change: %q", p.tamper, body)
			}
			tampered := bytes.Clone(raw)
			tampered[len(head)+4+at+len(p.tamper)-1] ^= 1 // the last byte of tamper, the length unchanged
			args := []string{"minipay", "verify", "--provider", p.provider}
			for _, s := range p.sets {
				args = append(args, "--set", s)
			}
			for _, c := range []struct {
				what  string
				input []byte
				code  int
				last  string
			}{
				{"as captured", raw, 0, "verdict: valid"},
				{"one byte of the body changed", tampered, 1, "verdict: invalid ("},
			} {
				file := filepath.Join(t.TempDir(), p.provider+".http")
				if err := os.WriteFile(file, c.input, 0o600); err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command(bin, append(args, "--file", file)...)
				cmd.Env = append(os.Environ(), env...)
				var out, errOut bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &errOut
				var exit *exec.ExitError
				if err := cmd.Run(); err != nil && !errors.As(err, &exit) {
					t.Fatal(err)
				}
				lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
				if code := cmd.ProcessState.ExitCode(); code != c.code || !strings.HasPrefix(lines[len(lines)-1], c.last) || errOut.Len() != 0 {
					t.Fatalf("%s: exit %d, want %d\n%s%s", c.what, code, c.code, out.String(), errOut.String())
				}
				for _, kv := range env {
					if _, secret, _ := strings.Cut(kv, "="); strings.Contains(out.String(), secret) {
						t.Fatalf("%s: the output shows a key:\n%s", c.what, out.String())
					}
				}
			}
		})
	}
}
