package source

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

// Exec source config keys (Flume's names).
const (
	ExecCommand         = "command"
	ExecShell           = "shell"
	ExecRestart         = "restart"
	ExecRestartThrottle = "restartThrottle"
	ExecLogStdErr       = "logStdErr"
	ExecBatchSize       = "batchSize"
	ExecBatchTimeout    = "batchTimeout"
	ExecCharset         = "charset"
)

// ExecSpec documents the exec source.
var ExecSpec = flow.Spec{
	Names:   []string{"exec", "org.apache.flume.source.ExecSource"},
	Summary: "runs a command and makes every line of its standard output an event",
	Keys: []flow.Key{
		{Name: ExecCommand, Required: true, Doc: "the command to run; split on white space unless shell is set"},
		{Name: ExecShell, Doc: "shell to run the command with, e.g. /bin/sh -c (the command is its last argument)"},
		{Name: ExecRestart, Type: flow.Bool, Default: "false", Doc: "run the command again after it exits"},
		{Name: ExecRestartThrottle, Type: flow.Int, Default: "10000", Min: 0, Max: 1 << 40, Doc: "milliseconds to wait before running the command again"},
		{Name: ExecLogStdErr, Type: flow.Bool, Default: "false", Doc: "log the command's standard error lines (otherwise they are discarded)"},
		{Name: ExecBatchSize, Type: flow.Int, Default: "20", Min: 1, Max: 1 << 20, Doc: "most lines per batch put to the channels"},
		{Name: ExecBatchTimeout, Type: flow.Int, Default: "3000", Min: 1, Max: 1 << 40, Doc: "milliseconds after which a partial batch is put to the channels"},
		{Name: ExecCharset, Default: "UTF-8", Doc: "character set of the output; lines are passed through as bytes, as Flume re-encodes them in the same set"},
	},
}

func init() {
	flow.RegisterSource(ExecSpec, func(c flow.Config) (flow.Source, error) {
		if err := charsetKeyError(ExecCharset, c.String(ExecCharset)); err != nil {
			return nil, err
		}
		var argv []string
		if sh := strings.Fields(c.String(ExecShell)); len(sh) > 0 {
			argv = append(sh, c.String(ExecCommand))
		} else {
			argv = strings.Fields(c.String(ExecCommand))
		}
		if len(argv) == 0 {
			return nil, keyErr(ExecCommand, c.String(ExecCommand), "no command", "set command to the program to run, e.g. tail -F /var/log/app.log")
		}
		return &Exec{
			Argv:            argv,
			Restart:         c.Bool(ExecRestart),
			RestartThrottle: time.Duration(c.Int(ExecRestartThrottle)) * time.Millisecond,
			LogStdErr:       c.Bool(ExecLogStdErr),
			BatchSize:       int(c.Int(ExecBatchSize)),
			BatchTimeout:    time.Duration(c.Int(ExecBatchTimeout)) * time.Millisecond,
			cfg:             c,
		}, nil
	})
}

// execStopGrace is how long a stopped command gets between SIGTERM and
// SIGKILL.
const execStopGrace = 3 * time.Second

// Exec is Flume's exec source. The command runs in its own process group;
// each line of its standard output (without '\n', and without a '\r' before
// it, as Java's readLine) is an event. Batches are put when BatchSize lines
// are read or BatchTimeout passed since the batch began. Unlike Flume, a
// batch the channels refuse is offered again (with backoff) instead of
// being dropped with the command killed: the pipe then fills and the
// command blocks, so no line is lost while the source runs. On stop the
// process group gets SIGTERM, then SIGKILL after 3s, and is reaped; the
// lines already read are put once more within 5s.
type Exec struct {
	Argv            []string
	Restart         bool
	RestartThrottle time.Duration
	LogStdErr       bool
	BatchSize       int
	BatchTimeout    time.Duration
	cfg             flow.Config
}

// Run implements flow.Source.
func (s *Exec) Run(ctx context.Context, out flow.Emitter) error {
	log := s.cfg.Log()
	for {
		err := s.runOnce(ctx, out)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			log.Error("exec source command failed", "command", s.Argv, "err", err)
		} else {
			log.Info("exec source command exited", "command", s.Argv)
		}
		if !s.Restart {
			<-ctx.Done()
			return nil
		}
		if !sleepCtx(ctx, s.RestartThrottle) {
			return nil
		}
	}
}

// runOnce runs the command until it exits or ctx is done, putting its
// lines to out; it returns after the process is reaped.
func (s *Exec) runOnce(ctx context.Context, out flow.Emitter) error {
	cmd := exec.Command(s.Argv[0], s.Argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = execStopGrace
	if s.LogStdErr {
		cmd.Stderr = &lineLogger{log: s.cfg.Log()}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("creating the stdout pipe of %q: %w", s.Argv[0], err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %q: %w", s.Argv[0], err)
	}
	pid := cmd.Process.Pid

	// The reader goroutine owns stdout; it ends at EOF, which comes when the
	// process group exits or is killed.
	lines := make(chan []byte)
	readErr := make(chan error, 1)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer close(lines)
		r := bufio.NewReaderSize(stdout, 64<<10)
		for {
			line, err := r.ReadBytes('\n')
			if len(line) > 0 && (err == nil || errors.Is(err, io.EOF)) {
				line = trimEOL(line)
				select {
				case lines <- line:
				case <-ctx.Done():
					readErr <- nil
					return
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				readErr <- err
				return
			}
		}
	}()

	// killer: SIGTERM the group on stop, SIGKILL after the grace period.
	killed := make(chan struct{})
	stopKill := context.AfterFunc(ctx, func() {
		defer close(killed)
		syscall.Kill(-pid, syscall.SIGTERM)
		t := time.NewTimer(execStopGrace)
		defer t.Stop()
		select {
		case <-t.C:
			syscall.Kill(-pid, syscall.SIGKILL)
		case <-readerDone:
		}
	})

	batch := make([]flow.Event, 0, s.BatchSize)
	var timer *time.Timer
	var timerC <-chan time.Time
	flush := func(c context.Context) error {
		if timer != nil {
			timer.Stop()
			timer, timerC = nil, nil
		}
		if len(batch) == 0 {
			return nil
		}
		err := emitRetry(c, out, batch, s.cfg, "exec")
		batch = make([]flow.Event, 0, s.BatchSize)
		return err
	}
	var loopErr error
loop:
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				break loop
			}
			batch = append(batch, flow.Event{Headers: map[string]string{}, Body: line})
			if len(batch) == 1 {
				timer = time.NewTimer(s.BatchTimeout)
				timerC = timer.C
			}
			if len(batch) >= s.BatchSize {
				if err := flush(ctx); err != nil {
					break loop
				}
			}
		case <-timerC:
			timer, timerC = nil, nil
			if err := flush(ctx); err != nil {
				break loop
			}
		case <-ctx.Done():
			break loop
		}
	}
	// Lines read but not yet committed: one last attempt, bounded.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	if err := flush(fctx); err != nil {
		s.cfg.Log().Warn("exec source could not commit its last lines on stop", "err", err)
	}
	cancel()
	for range lines { // let the reader finish
	}
	if err := <-readErr; err != nil {
		loopErr = fmt.Errorf("reading the output of %q: %w", s.Argv[0], err)
	}
	waitErr := cmd.Wait()
	if !stopKill() {
		<-killed
	}
	if ctx.Err() != nil {
		return nil
	}
	if loopErr != nil {
		return loopErr
	}
	var exitErr *exec.ExitError
	if errors.As(waitErr, &exitErr) {
		return fmt.Errorf("%q exited: %w", s.Argv[0], waitErr)
	}
	return waitErr
}

// trimEOL cuts a trailing "\n" or "\r\n".
func trimEOL(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	return line
}

// lineLogger logs every line written to it (a command's standard error).
type lineLogger struct {
	log     interface{ Info(string, ...any) }
	partial []byte
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.log.Info("exec source command stderr", "line", string(trimEOL(l.partial[:i+1])))
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}
