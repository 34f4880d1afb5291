package database

import (
	"os"
	"testing"

	"github.com/runnel/runnel/internal/testutil/pgtest"
)

// The package's tests share one throw-away PostgreSQL server
// (internal/testutil/pgtest); each test gets a fresh database.

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

type pgServer = *pgtest.DB

func startPostgres(t testing.TB) pgServer { return pgtest.Start(t) }
