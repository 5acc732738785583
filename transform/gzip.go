package transform

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
)

// ErrInflateTooLarge is Gunzip's answer to a body that inflates past its bound.
var ErrInflateTooLarge = errors.New("transform: the body inflates past its bound")

// Gunzip inflates a gzip body, reading at most max bytes of output: a few
// compressed bytes must not cost more memory than an uncompressed body may.
func Gunzip(body []byte, max int) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(out) > max {
		return nil, ErrInflateTooLarge
	}
	return out, nil
}
