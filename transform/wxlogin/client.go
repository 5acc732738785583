package wxlogin

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/minipay/caddy-minipay/transform"
)

// Path is code2Session's path on api.weixin.qq.com.
const Path = "/sns/jscode2session"

// Client builds code2Session calls, to https://api.weixin.qq.com. Prepare is
// the entry point, with the merchant API's JSON; Login takes a request that
// passed its Validate (transform.Operations).
type Client struct {
	transform.Operations // Supports and Prepare: login
	cfg                  Config
}

// NewClient checks cfg and returns a Client.
func NewClient(cfg Config) (*Client, error) {
	if err := transform.CheckConfig(&cfg, transform.RoleClient); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg}
	c.Operations = transform.Operations{Provider: Name, Login: c.Login}
	return c, nil
}

var _ transform.Client = (*Client)(nil)

// Login builds the code2Session call. The AppSecret travels only in the
// upstream query string, which no log line of the plugin prints. The query
// names its parameters in the documented order (docs/providers/
// wechat_login.md "Endpoint"), each value URL-encoded.
func (c *Client) Login(req *transform.LoginRequest) (*transform.Call, error) {
	query := "appid=" + url.QueryEscape(c.cfg.AppID) + "&secret=" + url.QueryEscape(c.cfg.AppSecret) +
		"&js_code=" + url.QueryEscape(req.Code) + "&grant_type=authorization_code"
	return &transform.Call{
		Method: http.MethodGet, Path: Path, RawQuery: query,
		Decode: func(status int, _ http.Header, body []byte) ([]byte, error) {
			res, err := ReadAnswer(status, body)
			if err != nil {
				return nil, err
			}
			if !c.cfg.ExposeSessionKey {
				res.SessionKey = ""
			}
			return transform.Marshal(res), nil
		},
	}, nil
}

// Answer is code2Session's JSON answer (served as JSON or text/plain).
type Answer struct {
	OpenID     string `json:"openid,omitempty"`
	SessionKey string `json:"session_key,omitempty"`
	UnionID    string `json:"unionid,omitempty"`
	ErrCode    int64  `json:"errcode,omitempty"` // int64, not int: the same answer reads the same on 32-bit platforms
	ErrMsg     string `json:"errmsg,omitempty"`
}

// ReadAnswer maps a code2Session answer: errcode 0 or absent is success;
// the user's errors (bad, used or blocked code, rate limit) are 422; our
// configuration errors and "system busy" are 502. An answer that is not 2xx
// is a 502 whatever it says, naming its errcode when it carries one (WeChat
// answers its errors with 200; a 5xx carrying {"errcode":-1} still says why).
func ReadAnswer(status int, body []byte) (*transform.LoginResult, error) {
	var a Answer
	if status < 200 || status > 299 {
		message := "the provider answered HTTP " + strconv.Itoa(status)
		if transform.UnmarshalExact(body, &a) == nil && a.ErrCode != 0 {
			return nil, transform.UpstreamCode(message, strconv.FormatInt(a.ErrCode, 10), a.ErrMsg)
		}
		return nil, transform.Upstream(message)
	}
	if err := transform.UnmarshalExact(body, &a); err != nil {
		return nil, transform.Upstream(answerProblem(err))
	}
	switch a.ErrCode {
	case 0:
		if a.OpenID == "" {
			return nil, transform.Upstream("the provider's answer has no openid")
		}
		return &transform.LoginResult{OpenID: a.OpenID, UnionID: a.UnionID, SessionKey: a.SessionKey}, nil
	case 40029, 40163, 45011, 40226:
		return nil, transform.Rejected(strconv.FormatInt(a.ErrCode, 10), a.ErrMsg)
	default:
		return nil, transform.UpstreamCode("the provider reported an error", strconv.FormatInt(a.ErrCode, 10), a.ErrMsg)
	}
}

// answerProblem says what is wrong with an answer transform.UnmarshalExact
// refused: JSON that is not, a member named twice, or valid JSON whose
// member has another type than code2Session's (an errcode written as the
// string "40029").
func answerProblem(err error) string {
	if errors.Is(err, transform.ErrDuplicateMember) {
		return "the provider's answer gives a member twice"
	}
	var typeErr *json.UnmarshalTypeError
	if !errors.As(err, &typeErr) {
		return "the provider's answer is not valid JSON"
	}
	want := "a string"
	if typeErr.Type.Kind() == reflect.Int64 {
		want = "a number"
	}
	got, literal, _ := strings.Cut(typeErr.Value, " ") // "number 1.5": a number, but no int64
	switch {
	case typeErr.Field == "":
		return "the provider's answer is valid JSON, but " + article(got) + ", not an object"
	case got == "number" && want == "a number" && wholeIntInRange(literal):
		return "the provider's answer is valid JSON, but its " + typeErr.Field + " is not an integer literal (a whole number written with a fraction or an exponent)"
	case got == "number" && want == "a number":
		return "the provider's answer is valid JSON, but its " + typeErr.Field + " is not an integer (a fraction, or out of range)"
	default:
		return "the provider's answer is valid JSON, but its " + typeErr.Field + " is " + article(got) + ", not " + want
	}
}

// wholeIntInRange reports whether a JSON number literal that json refused
// for an int64 is nevertheless a whole number an int64 holds (4.0029e4,
// 40029.0): only its form is wrong, not its value. It is exact
// (40029.000000000000000001 is a fraction) and works on the digits, so a
// huge exponent costs nothing.
func wholeIntInRange(literal string) bool {
	mantissa, exponent, hasExponent := strings.Cut(strings.ToLower(literal), "e")
	sign, unsigned := "", mantissa
	if rest, ok := strings.CutPrefix(mantissa, "-"); ok {
		sign, unsigned = "-", rest
	}
	whole, fraction, _ := strings.Cut(unsigned, ".")
	digits := strings.TrimLeft(whole+fraction, "0")
	significant := strings.TrimRight(digits, "0")
	if significant == "" {
		return true // zero, however written
	}
	exp := 0
	if hasExponent {
		e, err := strconv.Atoi(exponent)
		if err != nil || e < -1000 || e > 1000 {
			return false // a non-zero digit times 10^±1000 is a fraction or out of range
		}
		exp = e
	}
	// The value is significant × 10^exp.
	exp += len(digits) - len(significant) - len(fraction)
	if exp < 0 || len(significant)+exp > 20 {
		return false
	}
	_, err := strconv.ParseInt(sign+significant+strings.Repeat("0", exp), 10, 64)
	return err == nil
}

// article is a JSON type's name with its article: "an array", "a string".
func article(jsonType string) string {
	if jsonType != "" && strings.IndexByte("aeiou", jsonType[0]) >= 0 {
		return "an " + jsonType
	}
	return "a " + jsonType
}
