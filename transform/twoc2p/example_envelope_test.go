package twoc2p_test

import (
	"fmt"

	"github.com/minipay/caddy-minipay/transform/transformtest"
	"github.com/minipay/caddy-minipay/transform/twoc2p"
)

// A PaymentResponse envelope of 2C2P's demo server, as captured (merchant
// JT01, secret key 7jYcp4FxFdf0: docs/providers/2c2p.md, Known-answer
// vectors; the base64 text is long, so it is kept in transformtest): Open
// checks the HMAC over the payload's base64 text before it decodes
// anything.
func ExampleOpen() {
	envelope, err := twoc2p.ParseEnvelope([]byte(transformtest.TwoC2PDemoApproved), twoc2p.RootResponse)
	if err != nil {
		panic(err)
	}
	fmt.Println(envelope.Signature)
	fields, err := twoc2p.Open([]byte(transformtest.TwoC2PDemoApproved), twoc2p.RootResponse, "7jYcp4FxFdf0")
	if err != nil {
		panic(err)
	}
	for _, name := range []string{"merchantID", "uniqueTransactionCode", "respCode", "status", "amt", "currencyCode"} {
		fmt.Println(name, fields.Get(name))
	}
	_, err = twoc2p.Open([]byte(transformtest.TwoC2PDemoApproved), twoc2p.RootResponse, "another-key")
	fmt.Println(err)
	// Output:
	// 908C31869A0DBA5E1647A9DEDDE1FEFEC4B3F87C059C14D2AF70BF4B23095FE1
	// merchantID JT01
	// uniqueTransactionCode dd0cf2540f
	// respCode 00
	// status A
	// amt 000000000100
	// currencyCode 702
	// notification signature does not verify
}
