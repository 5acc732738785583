package caddymodule

import (
	"context"
	"errors"
	"io/fs"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/minipay/caddy-minipay/transform"
)

// sharedStore is Caddy's configured storage (the storage global option:
// instances configured with the same one form a cluster) as a
// transform.Store. Each failing operation is logged at warn level and
// counted, because its caller then falls back to working alone: an
// instance fetches its own token, a webhook forwards without
// de-duplication. Keys are logged, never values (a token is a secret).
type sharedStore struct {
	inner    transform.Store
	use      string // what the store serves, a metric label: a provider name ("cbtis") or "dedupe"
	logger   *zap.Logger
	failures *prometheus.CounterVec
}

func newSharedStore(ctx caddy.Context, m *metrics, use string) *sharedStore {
	return m.sharedStore(ctx.Storage(), use, ctx.Logger())
}

// storageOperations are the operation labels of sharedStore's failures.
var storageOperations = []string{"lock", "unlock", "load", "store", "delete", "list"}

// sharedStore wraps inner for use, and creates its failure series at 0, so
// that an alert on increase() sees the first failure (see operations).
func (m *metrics) sharedStore(inner transform.Store, use string, logger *zap.Logger) *sharedStore {
	for _, op := range storageOperations {
		m.storageFailures.WithLabelValues(use, op)
	}
	return &sharedStore{inner: inner, use: use, logger: logger, failures: m.storageFailures}
}

// shareState hands the storage to a provider side that keeps shared state
// (transform.StateSharer); other sides are left alone.
func shareState(ctx caddy.Context, m *metrics, side any, use string) {
	if s, ok := side.(transform.StateSharer); ok && ctx.Storage() != nil {
		s.ShareState(newSharedStore(ctx, m, use))
	}
}

func (s *sharedStore) failed(op, key string, err error) {
	s.failures.WithLabelValues(s.use, op).Inc()
	s.logger.Warn("minipay: shared storage failed; this instance works alone for this operation",
		zap.String("use", s.use), zap.String("operation", op), zap.String("key", key), zap.Error(err))
}

// Lock implements transform.Store. A wait that ran out (another instance
// holds the lock) is no failure of the storage; the caller decides.
func (s *sharedStore) Lock(ctx context.Context, name string) error {
	err := s.inner.Lock(ctx, name)
	if err != nil && ctx.Err() == nil {
		s.failed("lock", name, err)
	}
	return err
}

// Unlock implements transform.Store.
func (s *sharedStore) Unlock(ctx context.Context, name string) error {
	err := s.inner.Unlock(ctx, name)
	if err != nil {
		s.failed("unlock", name, err)
	}
	return err
}

// Load implements transform.Store; an absent key is no failure.
func (s *sharedStore) Load(ctx context.Context, key string) ([]byte, error) {
	v, err := s.inner.Load(ctx, key)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.failed("load", key, err)
	}
	return v, err
}

// Store implements transform.Store.
func (s *sharedStore) Store(ctx context.Context, key string, value []byte) error {
	err := s.inner.Store(ctx, key, value)
	if err != nil {
		s.failed("store", key, err)
	}
	return err
}

// Delete implements transform.Store.
func (s *sharedStore) Delete(ctx context.Context, key string) error {
	err := s.inner.Delete(ctx, key)
	if err != nil {
		s.failed("delete", key, err)
	}
	return err
}

// List implements transform.Store; an absent prefix is no failure.
func (s *sharedStore) List(ctx context.Context, prefix string, recursive bool) ([]string, error) {
	keys, err := s.inner.List(ctx, prefix, recursive)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.failed("list", prefix, err)
	}
	return keys, err
}

// keyStater is what Caddy's storages (certmagic.Storage) have beside
// transform.Store: when a key was last written.
type keyStater interface {
	Stat(ctx context.Context, key string) (certmagic.KeyInfo, error)
}

// Stat is the inner storage's, errors.ErrUnsupported without one. A
// failure is not counted: its caller (the purge) does without.
func (s *sharedStore) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	if st, ok := s.inner.(keyStater); ok {
		return st.Stat(ctx, key)
	}
	return certmagic.KeyInfo{}, errors.ErrUnsupported
}

// Exists implements transform.Store.
func (s *sharedStore) Exists(ctx context.Context, key string) bool { return s.inner.Exists(ctx, key) }

// Interface guard.
var _ transform.Store = (*sharedStore)(nil)
