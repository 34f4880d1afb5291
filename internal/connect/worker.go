// Package connect is runnel's Kafka Connect dialect: a worker that runs
// connectors (the flow engine's sources and sinks, looked up by their
// connector.class) as tasks producing to or consuming from Kafka with
// franz-go, a source offset store, and Kafka Connect's REST API.
//
// Files: config.go (worker keys), connector.go (connector keys, error
// policy), converter.go, clients.go (producer/consumer keys → franz-go),
// offsets.go (the offset store: standalone file or offset topic),
// offsets_api.go (the /offsets endpoints), worker.go (connectors and the
// task supervisor), task_source.go, task_sink.go, rest.go, standalone.go,
// distributed.go (group membership, config topic, REST proxying).
//
// Locking: Worker.opMu serialises changes (create, delete, pause, ...);
// Worker.mu guards the connector map and is never held while waiting for a
// task; taskRunner.mu guards one task's state; distributed.mu guards the
// config topic's view and the assignment; FileOffsets.mu its maps.
// Order: opMu → Worker.mu → distributed.mu / taskRunner.mu.
package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	_ "github.com/runnel/runnel/internal/components" // every source and sink is a connector
	"github.com/runnel/runnel/internal/flow"
)

// Connector and task states, as Kafka Connect names them.
const (
	StateRunning    = "RUNNING"
	StatePaused     = "PAUSED"
	StateStopped    = "STOPPED"
	StateFailed     = "FAILED"
	StateRestarting = "RESTARTING"
	StateUnassigned = "UNASSIGNED"
)

// Errors the REST layer maps to HTTP codes.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrBadState = errors.New("bad state")
)

// Worker runs connectors in one process (standalone mode).
type Worker struct {
	cfg     *WorkerConfig
	log     *slog.Logger
	id      string
	offsets *FileOffsets
	admin   *kgo.Client
	// dist is set in distributed mode: REST changes go through the config
	// topic and the group decides which connector tasks run here.
	dist *distributed
	// status, when set (distributed mode), publishes connector and task
	// states under the status topic's keys.
	status func(key, state, trace string)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the flush loop and every task supervisor

	opMu  sync.Mutex // serialises changes to connectors
	mu    sync.Mutex // guards conns
	conns map[string]*connector
}

// connector is one configured connector; its fields are guarded by
// Worker.mu.
type connector struct {
	cfg    *ConnectorConfig
	target string        // RUNNING, PAUSED or STOPPED
	tasks  []*taskRunner // the tasks run here, by ascending id; empty when stopped
	// ids, when not nil, are the task ids this worker runs (distributed
	// mode: those assigned here); nil means all of 0..cfg.Tasks-1.
	ids []int
}

// taskIDs are the ids of the tasks run here; Worker.mu held.
func (c *connector) taskIDs() []int {
	var ids []int
	for id := range c.cfg.Tasks {
		if c.ids == nil || slices.Contains(c.ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// hostsConnector reports whether the connector itself (its status) is
// reported here: where its task 0 runs; Worker.mu held.
func (c *connector) hostsConnector() bool {
	return c.ids == nil || slices.Contains(c.ids, 0)
}

// taskRunner is one task of a connector and its supervisor goroutine.
type taskRunner struct {
	id     int
	cancel context.CancelFunc
	done   chan struct{}
	report func(state, trace string) // publishes a state change; may be nil

	mu    sync.Mutex // guards state and trace
	state string
	trace string
}

func (t *taskRunner) set(state, trace string) {
	t.mu.Lock()
	t.state, t.trace = state, trace
	t.mu.Unlock()
	if t.report != nil {
		t.report(state, trace)
	}
}

func (t *taskRunner) get() (string, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state, t.trace
}

// NewWorker opens the offset store and starts the offset flush loop. Close
// stops every task and flushes.
func NewWorker(cfg *WorkerConfig, log *slog.Logger) (*Worker, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	offs, err := OpenFileOffsets(cfg.OffsetFile)
	if err != nil {
		return nil, err
	}
	admin, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
	if err != nil {
		return nil, fmt.Errorf("creating the worker's Kafka client: %w", err)
	}
	return newWorker(cfg, log, offs, admin), nil
}

// newWorker starts a worker on the given offset store and client (which
// Close closes).
func newWorker(cfg *WorkerConfig, log *slog.Logger, offs *FileOffsets, admin *kgo.Client) *Worker {
	w := &Worker{cfg: cfg, log: log, id: cfg.Listen, offsets: offs, admin: admin, conns: map[string]*connector{}}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.wg.Add(1)
	go w.flushLoop()
	return w
}

// ID is the worker id shown in statuses (its REST host:port).
func (w *Worker) ID() string { return w.id }

// SetID changes the worker id (after the REST listener picked a port).
func (w *Worker) SetID(id string) { w.id = id }

func (w *Worker) flushLoop() {
	defer w.wg.Done()
	interval := w.cfg.OffsetFlush
	if interval <= 0 {
		interval = time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return
		case <-t.C:
			if err := w.offsets.Flush(); err != nil {
				w.log.Error("flushing source offsets", "err", err)
			}
		}
	}
}

// Close stops every task, flushes source offsets and releases the worker.
func (w *Worker) Close() error {
	w.opMu.Lock()
	defer w.opMu.Unlock()
	w.mu.Lock()
	var runners []*taskRunner
	for _, c := range w.conns {
		for _, t := range c.tasks {
			if t.cancel != nil {
				runners = append(runners, t)
			}
		}
	}
	w.mu.Unlock()
	for _, r := range runners {
		r.cancel()
	}
	for _, r := range runners {
		<-r.done
	}
	w.cancel()
	w.wg.Wait()
	err := w.offsets.Flush() // before the client closes: the offset topic uses it
	w.admin.Close()
	return err
}

// Create adds and starts a connector (distributed: writes it to the config
// topic).
func (w *Worker) Create(props map[string]string) (*ConnectorConfig, error) {
	if w.dist != nil {
		return w.dist.create(props)
	}
	return w.createLocal(props)
}

// Put creates or replaces a connector's config.
func (w *Worker) Put(name string, props map[string]string) (*ConnectorConfig, bool, error) {
	if w.dist != nil {
		return w.dist.put(name, props)
	}
	return w.putLocal(name, props)
}

// Delete removes a connector.
func (w *Worker) Delete(name string) error {
	if w.dist != nil {
		return w.dist.delete(name)
	}
	return w.deleteLocal(name)
}

// SetTarget pauses, stops or resumes a connector.
func (w *Worker) SetTarget(name, target string) error {
	if w.dist != nil {
		return w.dist.setTarget(name, target)
	}
	return w.setTargetLocal(name, target)
}

// createLocal adds and starts a connector on this worker. It fails with
// ErrConflict when the name exists.
func (w *Worker) createLocal(props map[string]string) (*ConnectorConfig, error) {
	return w.createLocalTasks(props, nil)
}

// createLocalTasks is createLocal running only the tasks in ids (nil: all).
func (w *Worker) createLocalTasks(props map[string]string, ids []int) (*ConnectorConfig, error) {
	w.opMu.Lock()
	defer w.opMu.Unlock()
	cc, err := ParseConnector(w.cfg, props)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	_, exists := w.conns[cc.Name]
	w.mu.Unlock()
	if exists {
		return nil, fmt.Errorf("connector %s already exists: %w", cc.Name, ErrConflict)
	}
	w.logWarnings(cc)
	c := &connector{cfg: cc, target: StateRunning, ids: ids}
	w.mu.Lock()
	w.conns[cc.Name] = c
	w.mu.Unlock()
	w.startTask(c)
	w.log.Info("connector created", "connector", cc.Name, "class", cc.Props[KeyConnectorClass], "type", cc.Type)
	return cc, nil
}

func (w *Worker) logWarnings(cc *ConnectorConfig) {
	for _, wn := range cc.Warnings {
		w.log.Warn(wn.Message, "connector", cc.Name, "key", wn.Key)
	}
}

// putLocal creates the connector on this worker or replaces its config
// (restarting its task); created reports which.
func (w *Worker) putLocal(name string, props map[string]string) (cc *ConnectorConfig, created bool, err error) {
	if props[KeyName] == "" {
		props[KeyName] = name
	}
	if props[KeyName] != name {
		return nil, false, fmt.Errorf("connector name %q in the config does not match %q in the path: %w", props[KeyName], name, ErrBadState)
	}
	w.mu.Lock()
	c := w.conns[name]
	w.mu.Unlock()
	if c == nil {
		cc, err := w.createLocal(props)
		return cc, err == nil, err
	}
	w.opMu.Lock()
	defer w.opMu.Unlock()
	cc, err = ParseConnector(w.cfg, props)
	if err != nil {
		return nil, false, err
	}
	w.logWarnings(cc)
	w.stopTask(c)
	w.mu.Lock()
	c.cfg = cc
	target := c.target
	w.mu.Unlock()
	if target == StateRunning {
		w.startTask(c)
	} else {
		w.idleTask(c, target)
	}
	w.log.Info("connector config updated", "connector", name)
	return cc, false, nil
}

func (w *Worker) lookup(name string) (*connector, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.conns[name]
	if c == nil {
		return nil, fmt.Errorf("connector %s not found: %w", name, ErrNotFound)
	}
	return c, nil
}

// deleteLocal stops and removes a connector from this worker (its source
// offsets stay, as in Kafka).
func (w *Worker) deleteLocal(name string) error {
	w.opMu.Lock()
	defer w.opMu.Unlock()
	c, err := w.lookup(name)
	if err != nil {
		return err
	}
	w.stopTask(c)
	w.mu.Lock()
	delete(w.conns, name)
	w.mu.Unlock()
	if err := w.offsets.Flush(); err != nil {
		w.log.Error("flushing source offsets", "err", err)
	}
	w.log.Info("connector deleted", "connector", name)
	return nil
}

// setTargetLocal pauses (PAUSED), stops (STOPPED) or resumes (RUNNING) a
// connector on this worker.
func (w *Worker) setTargetLocal(name, target string) error {
	w.opMu.Lock()
	defer w.opMu.Unlock()
	c, err := w.lookup(name)
	if err != nil {
		return err
	}
	w.mu.Lock()
	old := c.target
	c.target = target
	w.mu.Unlock()
	if old == target {
		return nil
	}
	w.stopTask(c)
	if target == StateRunning {
		w.startTask(c)
	} else {
		w.idleTask(c, target)
	}
	w.log.Info("connector state changed", "connector", name, "from", old, "to", target)
	return nil
}

// Restart restarts the connector's tasks (onlyFailed: only those that
// failed). A paused or stopped connector is left as it is.
func (w *Worker) Restart(name string, onlyFailed bool) error {
	if w.dist != nil {
		return w.dist.restart(name, onlyFailed)
	}
	return w.restartLocal(name, onlyFailed)
}

// restartLocal restarts the connector's tasks running here.
func (w *Worker) restartLocal(name string, onlyFailed bool) error {
	return w.restartTasks(name, func(t *taskRunner) bool {
		st, _ := t.get()
		return !onlyFailed || st == StateFailed || st == StateRestarting
	})
}

// RestartTask restarts one task of a running connector.
func (w *Worker) RestartTask(name string, id int) error {
	c, err := w.lookup(name)
	if err != nil {
		return err
	}
	w.mu.Lock()
	here := slices.ContainsFunc(c.tasks, func(t *taskRunner) bool { return t.id == id })
	w.mu.Unlock()
	if !here {
		return fmt.Errorf("task %d of connector %s not found: %w", id, name, ErrNotFound)
	}
	return w.restartTasks(name, func(t *taskRunner) bool { return t.id == id })
}

// restartTasks restarts the tasks of a running connector that pick
// chooses.
func (w *Worker) restartTasks(name string, pick func(*taskRunner) bool) error {
	w.opMu.Lock()
	defer w.opMu.Unlock()
	c, err := w.lookup(name)
	if err != nil {
		return err
	}
	w.mu.Lock()
	target, tasks := c.target, slices.Clone(c.tasks)
	w.mu.Unlock()
	if target != StateRunning {
		return nil
	}
	for _, t := range tasks {
		if pick(t) {
			w.restartOne(c, t.id)
		}
	}
	return nil
}

// restartOne stops task id and starts it again; opMu held.
func (w *Worker) restartOne(c *connector, id int) {
	w.mu.Lock()
	i := slices.IndexFunc(c.tasks, func(t *taskRunner) bool { return t.id == id })
	if i < 0 {
		w.mu.Unlock()
		return
	}
	t := c.tasks[i]
	w.mu.Unlock()
	w.waitTasks([]*taskRunner{t})
	w.mu.Lock()
	cc := c.cfg
	w.mu.Unlock()
	nt := w.runTask(cc, id)
	w.mu.Lock()
	c.tasks[i] = nt
	w.mu.Unlock()
}

// setLocalTasks makes the connector run exactly the tasks in ids here
// (distributed mode), stopping the others and starting the new ones while
// the tasks kept run on.
func (w *Worker) setLocalTasks(name string, ids []int) error {
	w.opMu.Lock()
	defer w.opMu.Unlock()
	c, err := w.lookup(name)
	if err != nil {
		return err
	}
	w.mu.Lock()
	if slices.Equal(c.ids, ids) {
		w.mu.Unlock()
		return nil
	}
	hosted := c.hostsConnector()
	c.ids = ids
	target, cc, hosts := c.target, c.cfg, c.hostsConnector()
	var keep, gone []*taskRunner
	for _, t := range c.tasks {
		if slices.Contains(ids, t.id) {
			keep = append(keep, t)
		} else {
			gone = append(gone, t)
		}
	}
	want := c.taskIDs()
	w.mu.Unlock()
	if target != StateRunning {
		w.idleTask(c, target)
		return nil
	}
	if hosts && !hosted {
		w.publish(connectorStatusKey(name), target, "")
	}
	w.waitTasks(gone)
	tasks := make([]*taskRunner, 0, len(want))
	for _, id := range want {
		if i := slices.IndexFunc(keep, func(t *taskRunner) bool { return t.id == id }); i >= 0 {
			tasks = append(tasks, keep[i])
		} else {
			tasks = append(tasks, w.runTask(cc, id))
		}
	}
	w.mu.Lock()
	c.tasks = tasks
	w.mu.Unlock()
	w.log.Info("connector tasks assigned here", "connector", name, "tasks", want)
	return nil
}

// stopTask cancels the connector's tasks and waits for them; opMu held.
func (w *Worker) stopTask(c *connector) {
	w.mu.Lock()
	tasks := c.tasks
	c.tasks = nil
	w.mu.Unlock()
	w.waitTasks(tasks)
}

// waitTasks cancels running tasks and waits until they ended, then flushes
// source offsets.
func (w *Worker) waitTasks(tasks []*taskRunner) {
	var running []*taskRunner
	for _, t := range tasks {
		if t.cancel != nil {
			t.cancel()
			running = append(running, t)
		}
	}
	if len(running) == 0 {
		return
	}
	for _, t := range running {
		<-t.done
	}
	if err := w.offsets.Flush(); err != nil {
		w.log.Error("flushing source offsets", "err", err)
	}
}

// idleTask records not-running tasks in state (PAUSED, STOPPED); opMu held.
func (w *Worker) idleTask(c *connector, state string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c.tasks = nil
	if c.hostsConnector() {
		w.publish(connectorStatusKey(c.cfg.Name), state, "")
	}
	if state == StateStopped {
		return
	}
	for _, id := range c.taskIDs() {
		c.tasks = append(c.tasks, &taskRunner{id: id, state: state})
		w.publish(taskStatusKey(c.cfg.Name, id), state, "")
	}
}

// publish reports a state when a status topic is kept.
func (w *Worker) publish(key, state, trace string) {
	if w.status != nil {
		w.status(key, state, trace)
	}
}

// Keys of the status topic, as Kafka Connect writes them.
func connectorStatusKey(name string) string    { return "status-connector-" + name }
func taskStatusKey(name string, id int) string { return fmt.Sprintf("status-task-%s-%d", name, id) }

// startTask starts a supervisor for each of the connector's tasks; opMu
// held.
func (w *Worker) startTask(c *connector) {
	w.mu.Lock()
	cc, ids, hosts := c.cfg, c.taskIDs(), c.hostsConnector()
	w.mu.Unlock()
	if hosts {
		w.publish(connectorStatusKey(cc.Name), StateRunning, "")
	}
	tasks := make([]*taskRunner, 0, len(ids))
	for _, id := range ids {
		tasks = append(tasks, w.runTask(cc, id))
	}
	w.mu.Lock()
	c.tasks = tasks
	w.mu.Unlock()
}

// runTask starts task id's supervisor goroutine (owned by the worker: it
// ends when the task is cancelled).
func (w *Worker) runTask(cc *ConnectorConfig, id int) *taskRunner {
	ctx, cancel := context.WithCancel(w.ctx)
	t := &taskRunner{id: id, cancel: cancel, done: make(chan struct{}), state: StateRunning}
	if w.status != nil {
		key := taskStatusKey(cc.Name, id)
		t.report = func(state, trace string) { w.status(key, state, trace) }
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer close(t.done)
		w.supervise(ctx, cc, t)
	}()
	return t
}

// supervise runs a task until ctx is done, starting it again with backoff
// after each failure (Kafka Connect leaves a failed task dead).
func (w *Worker) supervise(ctx context.Context, cc *ConnectorConfig, t *taskRunner) {
	log := w.log.With("connector", cc.Name, "task", t.id)
	backoff := w.cfg.RestartBackoff
	for {
		t.set(StateRunning, "")
		started := time.Now()
		var err error
		if cc.Type == connectorTypeSource {
			err = w.runSource(ctx, cc)
		} else {
			err = w.runSink(ctx, cc, t.id)
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("task ended by itself")
		}
		if time.Since(started) > w.cfg.RestartBackoffMax {
			backoff = w.cfg.RestartBackoff
		}
		log.Error("task failed; restarting it", "err", err, "restart_in", backoff)
		t.set(StateFailed, traceOf(err, backoff))
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		_, trace := t.get()
		t.set(StateRestarting, trace)
		backoff = min(backoff*2, w.cfg.RestartBackoffMax)
	}
}

// traceOf renders err as a task trace: the message, then each wrapped
// cause on its own line, as a Java trace lists its "Caused by"s.
func traceOf(err error, restartIn time.Duration) string {
	var b strings.Builder
	b.WriteString(err.Error())
	for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
		fmt.Fprintf(&b, "\nCaused by: %s", e.Error())
	}
	if restartIn > 0 {
		fmt.Fprintf(&b, "\n(runnel restarts the task in %s)", restartIn)
	}
	return b.String()
}

// TaskStatus is one task in a status answer.
type TaskStatus struct {
	ID       int    `json:"id"`
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

// ConnectorState is the connector part of a status answer.
type ConnectorState struct {
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

// Status is GET /connectors/{name}/status.
type Status struct {
	Name      string         `json:"name"`
	Connector ConnectorState `json:"connector"`
	Tasks     []TaskStatus   `json:"tasks"`
	Type      string         `json:"type"`
}

// Status returns a connector's status (distributed: with the tasks other
// workers run, asked of them).
func (w *Worker) Status(name string) (*Status, error) {
	if w.dist != nil {
		return w.dist.status(name, true)
	}
	return w.localStatus(name)
}

// localStatus is the status of a connector and the tasks run here.
func (w *Worker) localStatus(name string) (*Status, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.conns[name]
	if c == nil {
		return nil, fmt.Errorf("connector %s not found: %w", name, ErrNotFound)
	}
	s := &Status{Name: name, Connector: ConnectorState{State: c.target, WorkerID: w.id}, Tasks: []TaskStatus{}, Type: c.cfg.Type}
	for _, t := range c.tasks {
		st, trace := t.get()
		s.Tasks = append(s.Tasks, TaskStatus{ID: t.id, State: st, WorkerID: w.id, Trace: trace})
	}
	return s, nil
}

// Names lists the connectors, sorted.
func (w *Worker) Names() []string {
	if w.dist != nil {
		return w.dist.names()
	}
	return w.localNames()
}

func (w *Worker) localNames() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	names := make([]string, 0, len(w.conns))
	for n := range w.conns {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Config returns a connector's config (not to be modified).
func (w *Worker) Config(name string) (*ConnectorConfig, error) {
	cc, _, err := w.snapshot(name)
	return cc, err
}

// Target returns a connector's target state.
func (w *Worker) Target(name string) (string, error) {
	_, t, err := w.snapshot(name)
	return t, err
}

func (w *Worker) snapshot(name string) (*ConnectorConfig, string, error) {
	if w.dist != nil {
		return w.dist.snapshot(name)
	}
	return w.localSnapshot(name)
}

func (w *Worker) localSnapshot(name string) (*ConnectorConfig, string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.conns[name]
	if c == nil {
		return nil, "", fmt.Errorf("connector %s not found: %w", name, ErrNotFound)
	}
	return c.cfg, c.target, nil
}

// buildComponent builds the connector's source or sink for one task run.
func (w *Worker) buildComponent(cc *ConnectorConfig, log *slog.Logger) (any, error) {
	cfg := cc.Component
	cfg.Logger = log
	cfg.Agent = cc.Name
	if cc.Type == connectorTypeSource {
		cfg.Offsets = w.offsets.For(cc.Name)
	}
	v, err := cc.Reg.Build(cfg)
	if err != nil {
		return nil, fmt.Errorf("building %s %s: %w", cc.Type, cc.Name, err)
	}
	return v, nil
}

var _ flow.OffsetStore = (*ConnectorOffsets)(nil)
