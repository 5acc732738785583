package transformtest

// CBTIS's published notification example, shared by the unit, command and
// integration tests as a known answer (docs/providers/cbtis.md "Known-answer
// vectors"): a refund_success body as sent, byte for byte, its apikey, and
// the signature, sha256(body + "." + apikey) in lowercase hex.
const (
	CBTISVectorKey       = "6d0e8fa7b10c40c3a48c0c2be41cb178"
	CBTISVectorBody      = `{"notify_type":"refund_success","data":{"uid":39172931,"refund_id":"C34368224017070000","merchant_refund_id":"P2164521756312637123","order_amount":"105.00","create_time":"2023-08-23T18:25:43.511Z","refund_time":"2023-08-23T18:28:16.511Z"}}`
	CBTISVectorSignature = "3ce5a54d8a76590179f0f4192a6c0efddf20e118966b6276b1bfbbc0b33f362a"
)
