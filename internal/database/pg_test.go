package database

// A throw-away PostgreSQL server for the package's tests: Debian's server
// binaries (scripts/install-postgres.sh), initdb into a temp dir, run as a
// non-root user (the tests may run as root; postgres refuses root), on a free
// loopback port with wal_level=logical for CDC. One server per test binary;
// every test gets a fresh database.
//
// When the binaries are missing the tests that need PostgreSQL skip, unless
// RUNNEL_POSTGRES=1 (set by `make test`), which makes them fail instead.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgServer is a database on the test server.
type pgServer interface {
	Port() int
	User() string
	DB() string
	Conn(t testing.TB) *pgx.Conn
	// Restart stops the server (fast shutdown, connections dropped) and
	// starts it again on the same port and data.
	Restart(t testing.TB)
}

type pgCluster struct {
	bin, dir, runAs string
	port            int
	err             error
}

var (
	pgOnce    sync.Once
	pgShared  *pgCluster
	pgRestart sync.Mutex
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pgShared != nil && pgShared.err == nil {
		pgShared.ctl("stop", "-m", "immediate")
		os.RemoveAll(pgShared.dir)
	}
	os.Exit(code)
}

func pgBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Strings(dirs)
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	return ""
}

// command runs a server binary as the unprivileged user.
func (c *pgCluster) command(name string, args ...string) *exec.Cmd {
	bin := filepath.Join(c.bin, name)
	if c.runAs != "" {
		return exec.Command("runuser", append([]string{"-u", c.runAs, "--", bin}, args...)...)
	}
	return exec.Command(bin, args...)
}

func (c *pgCluster) ctl(args ...string) error {
	full := append([]string{"-D", filepath.Join(c.dir, "data"), "-w", "-t", "60"}, args...)
	if args[0] == "start" || args[0] == "restart" {
		full = append(full, "-l", filepath.Join(c.dir, "server.log"), "-o",
			fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c wal_level=logical -c max_replication_slots=20 -c max_wal_senders=20 -c fsync=on", c.port, c.dir))
	}
	out, err := c.command("pg_ctl", full...).CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		return fmt.Errorf("pg_ctl %v: %v\n%s\nserver log:\n%s", args, err, out, log)
	}
	return nil
}

func startCluster() *pgCluster {
	c := &pgCluster{bin: pgBinDir()}
	if c.bin == "" {
		c.err = fmt.Errorf("PostgreSQL server binaries not found under /usr/lib/postgresql: run scripts/install-postgres.sh")
		return c
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			c.err = fmt.Errorf("running as root and there is no postgres user to run the server as: %v", err)
			return c
		}
		c.runAs = u.Username
	}
	dir, err := os.MkdirTemp("", "runnel-pg-")
	if err != nil {
		c.err = err
		return c
	}
	c.dir = dir
	if c.runAs != "" {
		if out, err := exec.Command("chown", c.runAs, dir).CombinedOutput(); err != nil {
			c.err = fmt.Errorf("chown %s: %v %s", dir, err, out)
			return c
		}
	}
	if out, err := c.command("initdb", "-D", filepath.Join(dir, "data"), "-U", "postgres", "-A", "trust", "--no-sync").CombinedOutput(); err != nil {
		c.err = fmt.Errorf("initdb: %v\n%s", err, out)
		return c
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.err = err
		return c
	}
	c.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	c.err = c.ctl("start")
	return c
}

// startPostgres returns a fresh database on the shared test server.
func startPostgres(t testing.TB) pgServer {
	t.Helper()
	pgOnce.Do(func() { pgShared = startCluster() })
	if pgShared.err != nil {
		if os.Getenv("RUNNEL_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL test server: %v", pgShared.err)
		}
		t.Skipf("PostgreSQL test server unavailable (%v); run scripts/install-postgres.sh", pgShared.err)
	}
	db := fmt.Sprintf("t%d", rand.Uint32())
	s := pgDB{c: pgShared, db: db}
	admin := pgDB{c: pgShared, db: "postgres"}.Conn(t)
	if _, err := admin.Exec(context.Background(), "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		c, err := pgx.Connect(ctx, pgDB{c: pgShared, db: "postgres"}.url())
		if err != nil {
			return
		}
		defer c.Close(ctx)
		c.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active", db)
		c.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
	})
	return s
}

type pgDB struct {
	c  *pgCluster
	db string
}

func (p pgDB) Port() int    { return p.c.port }
func (p pgDB) User() string { return "postgres" }
func (p pgDB) DB() string   { return p.db }
func (p pgDB) url() string {
	return "postgres://postgres@127.0.0.1:" + strconv.Itoa(p.c.port) + "/" + p.db
}

func (p pgDB) Conn(t testing.TB) *pgx.Conn {
	t.Helper()
	var c *pgx.Conn
	var err error
	for range 50 { // the server may be restarting
		if c, err = pgx.Connect(context.Background(), p.url()); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func (p pgDB) Restart(t testing.TB) {
	t.Helper()
	pgRestart.Lock()
	defer pgRestart.Unlock()
	if err := p.c.ctl("restart", "-m", "fast"); err != nil {
		t.Fatal(err)
	}
}
