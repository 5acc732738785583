package testport

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
)

var (
	storageOnce sync.Once
	storageRoot string
	storageErr  error
	storageSeq  atomic.Int64
)

// StorageDir is a new directory for one Caddy configuration's storage, under
// one root of this process that RemoveStorage deletes (call it from
// TestMain, after m.Run). It is not under the test's t.TempDir: Caddy's TLS
// app cleans its storage in the background after a load (a lock file,
// last_clean.json), and a test that ends within milliseconds of its load
// saw its TempDir's removal fail with "directory not empty".
func StorageDir() string {
	storageOnce.Do(func() { storageRoot, storageErr = os.MkdirTemp("", "minipay-test-storage-") })
	if storageErr != nil {
		panic(storageErr)
	}
	return filepath.Join(storageRoot, strconv.FormatInt(storageSeq.Add(1), 10))
}

// RemoveStorage deletes every StorageDir of this process.
func RemoveStorage() {
	if storageRoot != "" {
		_ = os.RemoveAll(storageRoot)
	}
}
