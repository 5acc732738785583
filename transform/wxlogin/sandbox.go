package wxlogin

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/minipay/caddy-minipay/transform"
)

// Sandbox emulates code2Session for one mini program. Every code logs in the
// same sandbox user (one tester, one phone), so the openid is stable for an
// app_id; each code works once, as wx.login codes do. A code that breaks
// minipay's own rule for it (README "Merchant API") and codes starting with
// "invalid" answer 40029, "blocked" 40226, "limited" 45011 and "busy" -1,
// so merchants can exercise every error path of the errcode table
// (docs/providers/wechat_login.md).
type Sandbox struct {
	cfg  Config
	mu   sync.Mutex
	used map[string]bool
}

// NewSandbox returns a Sandbox for cfg.
func NewSandbox(cfg Config) (*Sandbox, error) {
	if err := transform.CheckConfig(&cfg, transform.RoleSandbox); err != nil {
		return nil, err
	}
	return &Sandbox{cfg: cfg, used: map[string]bool{}}, nil
}

var _ transform.Sandbox = (*Sandbox)(nil)

// maxRememberedCodes bounds the used-code memory of a long-running sandbox.
const maxRememberedCodes = 100_000

// OpenID is the sandbox user's openid for an app_id: 28 characters like WeChat's.
func OpenID(appID string) string {
	sum := sha256.Sum256([]byte("minipay-sandbox-user:" + appID))
	return "o" + base64.RawURLEncoding.EncodeToString(sum[:])[:27]
}

// Handles implements transform.Sandbox.
func (s *Sandbox) Handles(path string) bool { return path == Path }

// ServeHTTP implements transform.Sandbox.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	answer := func(a Answer) {
		w.Header().Set("Content-Type", "text/plain") // as WeChat sometimes does
		_, _ = w.Write(transform.Marshal(a))
	}
	code := q.Get("js_code")
	switch {
	case r.Method != http.MethodGet:
		answer(Answer{ErrCode: 43001, ErrMsg: "require GET method"})
	case q.Get("appid") != s.cfg.AppID:
		answer(Answer{ErrCode: 40013, ErrMsg: "invalid appid"})
	case !transform.EqualConstantTime(q.Get("secret"), s.cfg.AppSecret):
		answer(Answer{ErrCode: 40125, ErrMsg: "invalid appsecret"})
	case q.Get("grant_type") != "authorization_code":
		answer(Answer{ErrCode: 40002, ErrMsg: "invalid grant_type"})
	case code == "":
		answer(Answer{ErrCode: 41008, ErrMsg: "missing code"})
	case strings.HasPrefix(code, "invalid") || (&transform.LoginRequest{Code: code}).Validate() != nil: // no wx.login code
		answer(Answer{ErrCode: 40029, ErrMsg: "invalid code"})
	case strings.HasPrefix(code, "blocked"):
		answer(Answer{ErrCode: 40226, ErrMsg: "high risk user"})
	case strings.HasPrefix(code, "limited"):
		answer(Answer{ErrCode: 45011, ErrMsg: "api minute-quota reach limit  mustslower  retry next minute"})
	case strings.HasPrefix(code, "busy"):
		answer(Answer{ErrCode: -1, ErrMsg: "system error"})
	default:
		s.mu.Lock()
		used := s.used[code]
		if len(s.used) >= maxRememberedCodes { // bound memory; real codes expire after 5 minutes anyway
			clear(s.used)
		}
		s.used[code] = true
		s.mu.Unlock()
		if used {
			answer(Answer{ErrCode: 40163, ErrMsg: "code been used"})
			return
		}
		var key [16]byte
		_, _ = rand.Read(key[:])
		answer(Answer{OpenID: OpenID(s.cfg.AppID), SessionKey: base64.StdEncoding.EncodeToString(key[:])})
	}
}

// Complete implements transform.Sandbox; logins have no notification.
func (s *Sandbox) Complete(string, bool, time.Time) (*transform.Outbound, func(int, []byte) bool, error) {
	return nil, nil, transform.ErrNoOrders
}

// Orders implements transform.Sandbox; logins make no orders.
func (s *Sandbox) Orders() []transform.SandboxOrder { return nil }
