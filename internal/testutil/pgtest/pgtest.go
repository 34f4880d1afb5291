// Package pgtest runs a throw-away PostgreSQL server for tests: Debian's
// server binaries (scripts/install-postgres.sh), initdb into a temp dir, run
// as a non-root user (tests may run as root; postgres refuses root), on a
// free loopback port with wal_level=logical for change data capture. One
// server per test binary, started on first use; every test gets a fresh
// database, dropped afterwards.
//
// When the binaries are missing the tests that need PostgreSQL skip, unless
// RUNNEL_POSTGRES=1 (set by `make test`), which makes them fail instead.
package pgtest

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

type cluster struct {
	bin, dir, runAs string
	port            int
	err             error
}

var (
	once    sync.Once
	shared  *cluster
	restart sync.Mutex // one restart of the shared server at a time
)

// Main runs the tests and then stops the server if one was started; call it
// from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	defer Stop()
	return m.Run()
}

// Stop stops the server if one was started and removes its files; a
// TestMain that cannot use Main defers it.
func Stop() {
	if shared != nil && shared.err == nil {
		shared.ctl("stop", "-m", "immediate")
		os.RemoveAll(shared.dir)
	}
}

func binDir() string {
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
func (c *cluster) command(name string, args ...string) *exec.Cmd {
	bin := filepath.Join(c.bin, name)
	if c.runAs != "" {
		return exec.Command("runuser", append([]string{"-u", c.runAs, "--", bin}, args...)...)
	}
	return exec.Command(bin, args...)
}

func (c *cluster) ctl(args ...string) error {
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

func startCluster() *cluster {
	c := &cluster{bin: binDir()}
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

// Start returns a fresh database on the shared test server, dropped (with
// its inactive replication slots) when t ends.
func Start(t testing.TB) *DB {
	t.Helper()
	once.Do(func() { shared = startCluster() })
	if shared.err != nil {
		if os.Getenv("RUNNEL_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL test server: %v", shared.err)
		}
		t.Skipf("PostgreSQL test server unavailable (%v); run scripts/install-postgres.sh", shared.err)
	}
	name := fmt.Sprintf("t%d", rand.Uint32())
	d := &DB{c: shared, db: name}
	admin := (&DB{c: shared, db: "postgres"}).Conn(t)
	if _, err := admin.Exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		c, err := pgx.Connect(ctx, (&DB{c: shared, db: "postgres"}).URL())
		if err != nil {
			return
		}
		defer c.Close(ctx)
		c.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active", name)
		c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return d
}

// DB is one database on the test server, reachable as user postgres
// without a password.
type DB struct {
	c  *cluster
	db string
}

// Port is the server's loopback port.
func (d *DB) Port() int { return d.c.port }

// User is the (superuser) role to connect as.
func (d *DB) User() string { return "postgres" }

// DB is the database's name.
func (d *DB) DB() string { return d.db }

// URL is a libpq URL of the database.
func (d *DB) URL() string {
	return "postgres://postgres@127.0.0.1:" + strconv.Itoa(d.c.port) + "/" + d.db
}

// JDBCURL is the database as a JDBC URL (jdbc:postgresql://...?user=...).
func (d *DB) JDBCURL() string {
	return "jdbc:postgresql://127.0.0.1:" + strconv.Itoa(d.c.port) + "/" + d.db + "?user=postgres"
}

// Conn connects, retrying for a few seconds while the server restarts; the
// connection is closed when t ends.
func (d *DB) Conn(t testing.TB) *pgx.Conn {
	t.Helper()
	var c *pgx.Conn
	var err error
	for range 50 {
		if c, err = pgx.Connect(context.Background(), d.URL()); err == nil {
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

// Restart stops the server (fast shutdown: connections dropped) and starts
// it again on the same port and data.
func (d *DB) Restart(t testing.TB) {
	t.Helper()
	restart.Lock()
	defer restart.Unlock()
	if err := d.c.ctl("restart", "-m", "fast"); err != nil {
		t.Fatal(err)
	}
}
