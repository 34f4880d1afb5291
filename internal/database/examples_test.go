package database_test

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runnel/runnel/internal/connect"
)

// TestExamples parses every connector config in examples/database against
// its worker config: each validates without warnings.
func TestExamples(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "database")
	var logged bytes.Buffer
	w, err := connect.LoadWorkerFile(filepath.Join(dir, "worker.properties"), slog.New(slog.NewTextHandler(&logged, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if logged.Len() > 0 {
		t.Errorf("worker example logged: %s", logged.String())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.properties"))
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "worker.properties") {
			continue
		}
		props, err := connect.LoadConnectorFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cc, err := connect.ParseConnector(w, props)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, wn := range cc.Warnings {
			t.Errorf("%s: warning %s", f, wn.Message)
		}
		n++
	}
	if n < 4 {
		t.Errorf("only %d connector examples found", n)
	}
}
