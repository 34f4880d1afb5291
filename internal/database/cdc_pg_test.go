package database

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TEMPORARY harness until the shared Postgres test server lands: uses the
// server at RUNNEL_TEST_PG_PORT (superuser postgres, trust auth).
type pgServer interface {
	Port() int
	User() string
	DB() string
	Conn(t testing.TB) *pgx.Conn
}

type extPG struct {
	port int
	db   string
}

func (p extPG) Port() int    { return p.port }
func (p extPG) User() string { return "postgres" }
func (p extPG) DB() string   { return p.db }
func (p extPG) Conn(t testing.TB) *pgx.Conn {
	c, err := pgx.Connect(context.Background(), fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s", p.port, p.db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func startPostgres(t testing.TB) pgServer {
	port, err := strconv.Atoi(os.Getenv("RUNNEL_TEST_PG_PORT"))
	if err != nil {
		t.Skip("RUNNEL_TEST_PG_PORT not set")
	}
	db := fmt.Sprintf("t%d", rand.Uint32())
	admin := extPG{port: port, db: "postgres"}.Conn(t)
	if _, err := admin.Exec(context.Background(), "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(context.Background(), "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1", db)
	})
	return extPG{port: port, db: db}
}
