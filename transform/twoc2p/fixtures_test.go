package twoc2p

import "github.com/minipay/caddy-minipay/transform/transformtest"

// Known-answer vectors: a real exchange with the 2C2P demo server (merchant
// JT01, demo secret key 7jYcp4FxFdf0), from docs/providers/2c2p.md and
// its fixture files, which come from activemerchant/active_merchant
// test/unit/gateways/two_c_two_p_test.rb. The literals live in
// transformtest, shared with the command and integration tests.
const (
	demoMerchantID        = transformtest.TwoC2PDemoMerchantID
	demoSecretKey         = transformtest.TwoC2PDemoSecretKey
	demoRequestForm       = transformtest.TwoC2PDemoRequestForm
	demoRequestSignature  = transformtest.TwoC2PDemoRequestSignature
	demoApproved          = transformtest.TwoC2PDemoApproved
	demoApprovedSignature = transformtest.TwoC2PDemoApprovedSignature
	demoDeclined          = transformtest.TwoC2PDemoDeclined
	demoDeclinedSignature = transformtest.TwoC2PDemoDeclinedSignature

	demoAnswerToRequestSignature = transformtest.TwoC2PDemoAnswerToRequestSignature
)
