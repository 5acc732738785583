package integration

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestTwoC2PLivePathThroughCaddy: 2C2P's live hosts take the pay request at
// /SecurePayment/Payment.aspx (2C2P's samples post to
// https://t.2c2p.com/SecurePayment/Payment.aspx), not at the demo server's
// /2C2PFrontEnd/SecurePayment/Payment.aspx (docs/providers/2c2p.md
// "Endpoints": the path follows the configuration, set with payment_path or
// a Caddy rewrite). README 2C2P "Hosts and the live endpoint path" gives two
// ways, reverse_proxy's own rewrite and payment_path, and says a top-level
// rewrite directive does not work, since it runs before minipay, which sets
// the path itself. An independent 2C2P server records the path each way
// reaches.
func TestTwoC2PLivePathThroughCaddy(t *testing.T) {
	fake := newFake2C2P(t)
	upstream := strings.TrimPrefix(fake.srv.URL, "http://")
	merchant := itoa(freePort(t))
	provider := `
			merchant_id ` + twoc2pMerchant + `
			secret_key ` + twoc2pKey + `
			app_id ` + appID
	config := globalOptions(filepath.Join(t.TempDir(), "caddy.log")) + `
:` + merchant + ` {
	handle /default/* {
		minipay 2c2p {` + provider + `
		}
		reverse_proxy ` + upstream + `
	}
	handle /proxyrewrite/* {
		minipay 2c2p {` + provider + `
		}
		reverse_proxy ` + upstream + ` {
			rewrite /SecurePayment/Payment.aspx
		}
	}
	handle /paymentpath/* {
		minipay 2c2p {` + provider + `
			payment_path /SecurePayment/Payment.aspx
		}
		reverse_proxy ` + upstream + `
	}
	handle /toprewrite/* {
		rewrite * /SecurePayment/Payment.aspx
		minipay 2c2p {` + provider + `
		}
		reverse_proxy ` + upstream + `
	}
}
`
	tc := startCaddy(t, config)
	base := "http://localhost:" + merchant

	for _, tt := range []struct{ route, order, path string }{
		{"default", "LIVE-DEFAULT", "/2C2PFrontEnd/SecurePayment/Payment.aspx"},
		{"proxyrewrite", "LIVE-REWRITE", "/SecurePayment/Payment.aspx"},
		{"paymentpath", "LIVE-PATH", "/SecurePayment/Payment.aspx"},
	} {
		r := postJSON(t, tc, base+"/"+tt.route+"/pay", twoc2pPay(tt.order, "12.34", "SGD", ""))
		if r.status != 200 || r.json(t)["order_id"] != tt.order {
			t.Fatalf("%s: pay %d %s", tt.route, r.status, r.body)
		}
		if s := fake.last(); s.orderID != tt.order || s.path != tt.path || s.contentType != "application/x-www-form-urlencoded" {
			t.Fatalf("%s: 2C2P received order %q at %q (%s), want %q", tt.route, s.orderID, s.path, s.contentType, tt.path)
		}
	}

	// A top-level rewrite runs first: minipay reads the operation from the
	// rewritten path (Payment.aspx, none of its operations) and nothing is
	// sent to 2C2P.
	before := fake.last()
	r := postJSON(t, tc, base+"/toprewrite/pay", twoc2pPay("LIVE-TOP", "12.34", "SGD", ""))
	if r.status != 404 || r.errorOf(t)["code"] != "unknown_operation" {
		t.Fatalf("top-level rewrite: %d %s", r.status, r.body)
	}
	if after := fake.last(); after != before {
		t.Fatalf("a request reached 2C2P through the top-level rewrite: %+v", after)
	}
}
