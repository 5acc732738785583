package wechatv3

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"

	"github.com/minipay/caddy-minipay/transform"
)

// AlgorithmAESGCM is the only resource algorithm WeChat uses (and the only
// one accepted): AES-GCM with the APIv3 key, 12-byte nonce, 16-byte tag.
const AlgorithmAESGCM = "AEAD_AES_256_GCM"

// ErrDecrypt is any failure to authenticate and decrypt a resource. For a
// notification it is a forgery as much as a signature that does not
// verify, so it matches transform.ErrBadSignature (errors.Is), one of the
// four errors every webhook returns (README Development, "Adding a
// provider"); its text names the resource, also for a certificate.
var ErrDecrypt error = decryptError{}

type decryptError struct{}

func (decryptError) Error() string { return "wechat_v3: the resource does not decrypt with api_v3_key" }
func (decryptError) Unwrap() error { return transform.ErrBadSignature }

// Resource is an encrypted payload of a notification or a downloaded
// certificate (docs/providers/wechat_v3.md, "AES-256-GCM").
type Resource struct {
	Algorithm      string `json:"algorithm"`
	Ciphertext     string `json:"ciphertext"`
	AssociatedData string `json:"associated_data"`
	Nonce          string `json:"nonce"`
	OriginalType   string `json:"original_type,omitempty"`
}

// newGCM builds the AEAD for an APIv3 key (32 bytes in production; the AES
// key sizes 16 and 24 are accepted here so that the SDK's published test
// vectors, which use 16-byte keys, can be checked).
func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Decrypt authenticates and decrypts r with key.
func (r *Resource) Decrypt(key []byte) ([]byte, error) {
	if r.Algorithm != AlgorithmAESGCM || len(r.Nonce) != 12 {
		return nil, ErrDecrypt
	}
	aead, err := newGCM(key)
	if err != nil {
		return nil, ErrDecrypt
	}
	ct, err := base64.StdEncoding.DecodeString(r.Ciphertext)
	if err != nil || len(ct) < aead.Overhead() {
		return nil, ErrDecrypt
	}
	plain, err := aead.Open(ct[:0], []byte(r.Nonce), ct, []byte(r.AssociatedData))
	if err != nil {
		return nil, ErrDecrypt
	}
	return plain, nil
}

// EncryptResource is the provider's side of Decrypt (the sandbox): nonce must
// be 12 bytes.
func EncryptResource(key []byte, nonce, associatedData string, plain []byte) (*Resource, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(nonce) != aead.NonceSize() {
		return nil, errors.New("wechat_v3: the nonce must be 12 bytes")
	}
	ct := aead.Seal(nil, []byte(nonce), plain, []byte(associatedData))
	return &Resource{Algorithm: AlgorithmAESGCM, Ciphertext: base64.StdEncoding.EncodeToString(ct),
		AssociatedData: associatedData, Nonce: nonce}, nil
}
