//go:build unix

package integration

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// asNobody runs a test's Caddy process as nobody, owning its directory.
func asNobody(t *testing.T) func(dir string, cmd *exec.Cmd) {
	return func(dir string, cmd *exec.Cmd) {
		chownNobody(t, dir, filepath.Join(dir, "Caddyfile"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
}

// nobody is the user and group id of nobody.
const nobody = 65534

func chownNobody(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.Chown(p, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
}

// setWritable makes the tree at root writable by its owner, or read-only.
func setWritable(t *testing.T, root string, writable bool) {
	t.Helper()
	dirMode, fileMode := fs.FileMode(0o555), fs.FileMode(0o444)
	if writable {
		dirMode, fileMode = 0o755, 0o644
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(path, dirMode)
		}
		return os.Chmod(path, fileMode)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// useTempDirNobodyMayEnter points the test's temporary directories (its
// Caddy binary, storage and process directory) at a directory nobody may
// enter: TMPDIR when every directory above it lets others pass, else a new
// one in /tmp (a CI runner's TMPDIR may be private to its user).
func useTempDirNobodyMayEnter(t *testing.T) {
	t.Helper()
	for d := os.TempDir(); ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm()&0o001 == 0 {
			break
		}
		if d == filepath.Dir(d) {
			return
		}
	}
	base, err := os.MkdirTemp("/tmp", "minipay-unwritable-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o711); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) }) // after the temporary directories' own cleanup
	t.Setenv("TMPDIR", base)
}

// TestClusterStorageUnwritable runs a Caddy whose file_system storage it can
// still read but no longer write (a volume remounted read-only, a change of
// owner), as README "Clusters" describes for a failing storage: what is
// stored still counts (an acknowledged event is a duplicate, a stored token
// is read, until the API refuses it: never again after), and what needs a
// write works alone at once: a lock that cannot
// be taken is no wait (the token is fetched by the instance, the event
// forwarded, never answered 503), and every failure is counted. Root
// writes anywhere, so under root the Caddy runs as nobody.
func TestClusterStorageUnwritable(t *testing.T) {
	if os.Geteuid() == 0 {
		useTempDirNobodyMayEnter(t)
	}
	bin := buildCaddy(t, t.TempDir())
	storage := filepath.Join(t.TempDir(), "storage")
	if err := os.Mkdir(storage, 0o755); err != nil {
		t.Fatal(err)
	}
	var prepare func(string, *exec.Cmd)
	if os.Geteuid() == 0 {
		prepare = asNobody(t)
		chownNobody(t, storage)
		// the binary and the process's directory lie under the test's
		// temporary directory, which only its owner may enter
		root := filepath.Dir(filepath.Dir(bin))
		if err := os.Chmod(root, 0o711); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{filepath.Dir(bin), filepath.Dir(storage)} {
			if err := os.Chmod(d, 0o755); err != nil { // whatever the umask
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(func() { setWritable(t, storage, true) }) // before the temporary directory is removed
	fake, merchant := newFakeCBTIS(t, 3600), newCountingMerchant(t)
	site := cbtisRoute("ro", fake) + `
	handle /webhooks/ro {
		minipay_webhook cbtis {
			dedupe 25h
			api_key ` + cbtisAPIKey + `
		}
		reverse_proxy ` + merchant.srv.Listener.Addr().String() + `
	}`
	p := startProcessWith(t, bin, "D", "file_system "+storage, site, prepare)
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	pay := func(id string) time.Duration {
		t.Helper()
		start := time.Now()
		if status, body := postProcess(t, p, "/ro/pay", cbtisPay(id)); status != 200 {
			t.Fatalf("pay %s: %d %s", id, status, body)
		}
		return time.Since(start)
	}
	acked, ackedSig := cbtisNotification("RO-1-" + run)

	// writable: the token and an acknowledged event are stored
	pay("RO-P1-" + run)
	mustAck(t, p, "/webhooks/ro", acked, ackedSig)
	setWritable(t, storage, false)

	// read-only: the stored acknowledgement still makes a duplicate
	mustAck(t, p, "/webhooks/ro", acked, ackedSig)
	if n := merchant.count("cbtis:RO-1-" + run + ":payment.succeeded"); n != 1 {
		t.Fatalf("the acknowledged event was forwarded %d times, want 1", n)
	}
	// a reloaded handler, with no token in memory, uses the stored one
	p.reload(t)
	pay("RO-P2-" + run)
	if fetches, _ := fake.counts(); fetches != 1 {
		t.Fatalf("%d token fetches after the reload, want 1 (the stored token)", fetches)
	}
	// a refused token is replaced by the instance's own fetch, without
	// waiting for a lock it cannot take (15 s)
	fake.revoke()
	if took := pay("RO-P3-" + run); took > 5*time.Second {
		t.Fatalf("the pay after the 401 took %v: the instance waited for the lock", took)
	}
	if fetches, _ := fake.counts(); fetches != 2 {
		t.Fatalf("%d token fetches, want 2 (the first, stored; its own after the 401)", fetches)
	}
	// its own token refused in turn: the stored one, refused first, is
	// still not used again (it was a second 401 and a 502)
	fake.revoke()
	pay("RO-P4-" + run)
	if fetches, _ := fake.counts(); fetches != 3 {
		t.Fatalf("%d token fetches, want 3 (its own again after the second 401)", fetches)
	}
	// a new event is forwarded each time (fails open), never answered 503
	fresh, freshSig := cbtisNotification("RO-2-" + run)
	for range 2 {
		mustAck(t, p, "/webhooks/ro", fresh, freshSig)
	}
	if n := merchant.count("cbtis:RO-2-" + run + ":payment.succeeded"); n != 2 {
		t.Fatalf("the new event was forwarded %d times, want 2 (never dropped)", n)
	}
	for _, series := range []string{
		`caddy_minipay_storage_failures_total{operation="lock",use="cbtis"}`,
		`caddy_minipay_storage_failures_total{operation="lock",use="dedupe"}`,
		`caddy_minipay_storage_failures_total{operation="store",use="dedupe"}`,
	} {
		if got := p.metric(t, series); got == "0" {
			t.Errorf("%s is 0", series)
		}
	}
	mustContain(t, logText(t, p.log), "shared storage failed", "D's warning")
}
