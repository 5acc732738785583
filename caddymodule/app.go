package caddymodule

import (
	"context"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

func init() { caddy.RegisterModule(new(App)) }

// App is the minipay app: the background work of the handlers of one
// configuration (today minipay_webhook's de-duplication purge), run only
// while that configuration runs. It has no configuration and nobody writes
// it: the handlers load it (ctx.App), which is why neither a Caddyfile nor
// caddy adapt's JSON ever names it.
//
// Why an app: a handler's Provision also runs under caddy validate and for
// a configuration that fails to load after it (Caddy then cancels the
// context), so work started there runs where nothing is served, and a
// storage lock it holds is abandoned when caddy validate's process exits.
// Caddy calls an app's Start only once the whole configuration provisioned,
// for every app the configuration loaded, those loaded lazily through
// ctx.App included (caddy.run; caddy.Validate never starts), and Stop when
// the configuration is replaced (reload) or Caddy stops. Caddy's "started"
// event would do too, but it is marked experimental, is emitted only when
// the events app is loaded, and has no stop of its own.
type App struct {
	ctx    caddy.Context
	logger *zap.Logger

	mu      sync.Mutex
	jobs    []*backgroundJob
	running context.Context // set by Start, until Stop: the jobs' parent
	stop    context.CancelFunc
	stopped bool
	wg      sync.WaitGroup
}

// backgroundJob is one handler's work and, once started, how to stop it.
type backgroundJob struct {
	run    func(context.Context)
	cancel context.CancelFunc
	off    bool // its handler stopped it (Cleanup)
}

// CaddyModule returns the Caddy module information.
func (*App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "minipay", New: func() caddy.Module { return new(App) }}
}

// Provision keeps the configuration's context: the jobs end with it too,
// should Caddy cancel a started configuration without stopping its apps.
func (a *App) Provision(ctx caddy.Context) error {
	a.ctx = ctx
	a.logger = ctx.Logger()
	return nil
}

// minipayApp is the configuration's minipay app, loaded on first use.
func minipayApp(ctx caddy.Context) (*App, error) {
	app, err := ctx.App("minipay")
	if err != nil {
		return nil, err
	}
	return app.(*App), nil
}

// background runs job while the configuration runs: from Start (at once
// when it has started already) until Stop, or until the returned function
// is called (the handler's Cleanup), whichever comes first. job returns
// once its context ends.
func (a *App) background(job func(context.Context)) (stop func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	j := &backgroundJob{run: job}
	a.jobs = append(a.jobs, j)
	if a.running != nil {
		a.start(j)
	}
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		j.off = true
		if j.cancel != nil {
			j.cancel()
		}
	}
}

// start runs j; a.mu is held.
func (a *App) start(j *backgroundJob) {
	ctx, cancel := context.WithCancel(a.running)
	j.cancel = cancel
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		j.run(ctx)
	}()
}

// Start implements caddy.App: the configuration is running.
func (a *App) Start() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.running != nil || a.stopped {
		return nil
	}
	a.running, a.stop = context.WithCancel(a.ctx)
	for _, j := range a.jobs {
		if !j.off {
			a.start(j)
		}
	}
	return nil
}

// appStopWait bounds Stop's wait for the jobs to return: a purge stops
// between two storage calls, each bounded by the context it is given, so
// this is reached only with a storage that ignores its context.
const appStopWait = 5 * time.Second

// Stop implements caddy.App: the configuration is being replaced or Caddy
// stops. It waits for the jobs to return, so that a purge under way
// releases the lock it holds before the process may exit.
func (a *App) Stop() error {
	a.mu.Lock()
	a.stopped = true
	if a.stop != nil {
		a.stop()
	}
	a.running = nil
	a.mu.Unlock()
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(appStopWait):
		a.logger.Warn("minipay: background work still running after the configuration stopped", zap.Duration("waited", appStopWait))
	}
	return nil
}

var (
	_ caddy.App         = (*App)(nil)
	_ caddy.Provisioner = (*App)(nil)
)
