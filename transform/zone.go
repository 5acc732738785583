package transform

import "time"

// UTC8 is UTC+8 without daylight saving: Beijing time, in which WeChat Pay
// writes its timestamps, and the zone of 2C2P's dateTime (its timeStamp is
// UTC+7: docs/providers/2c2p.md "Times"; Latipay's pay_time is UTC:
// docs/providers/latipay.md "Times").
var UTC8 = time.FixedZone("UTC+8", 8*3600)

// LocalRFC3339 reads a provider's time written without a zone in layout
// (WeChat's "20060102150405", "2006-01-02 15:04:05") as a time of loc, and
// gives it in RFC 3339; "" for a value of another shape, left out rather
// than guessed. The shape is exact, one ASCII digit for each digit of the
// layout and every other byte as it is: time.Parse alone takes a one-digit
// hour, a fraction after the seconds (".5", ",5") and extra spaces.
func LocalRFC3339(layout, s string, loc *time.Location) string {
	if len(s) != len(layout) {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if c := layout[i]; '0' <= c && c <= '9' {
			if s[i] < '0' || s[i] > '9' {
				return ""
			}
		} else if s[i] != c {
			return ""
		}
	}
	t, err := time.ParseInLocation(layout, s, loc) // checks the ranges of the date and time
	if err != nil {
		return ""
	}
	return t.Format(time.RFC3339)
}
