package connect

import (
	"log/slog"
	"path/filepath"
	"testing"
)

// TestExamples parses every config in examples/connect: the worker loads
// without warnings and each connector validates against it.
func TestExamples(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "connect")
	w, err := LoadWorkerFile(filepath.Join(dir, "connect-standalone.properties"), slog.New(slog.NewTextHandler(failOnWarn{t}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	n := 0
	for _, f := range files {
		if filepath.Base(f) == "connect-standalone.properties" {
			continue
		}
		props, err := LoadConnectorFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cc, err := ParseConnector(w, props)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, wn := range cc.Warnings {
			t.Errorf("%s: warning %s", f, wn.Message)
		}
		n++
	}
	if n < 3 {
		t.Errorf("only %d connector examples found", n)
	}
}

type failOnWarn struct{ t *testing.T }

func (f failOnWarn) Write(p []byte) (int, error) {
	f.t.Errorf("worker example logged: %s", p)
	return len(p), nil
}
