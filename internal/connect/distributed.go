package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel/runnel/internal/flow"
)

// Distributed mode. Workers with the same group.id form a classic group of
// protocol type "connect" (JoinGroup/SyncGroup/Heartbeat/LeaveGroup sent
// with kmsg). The leader assigns connector tasks ("name/id") stickily: a
// task stays with its worker unless that worker left or holds more than
// its share, so adding a connector or a worker does not stop the others. Configs and target states
// live in config.storage.topic in Kafka Connect's record layout
// (connector-<name> → {"properties":{...}}, target-state-<name> →
// {"state":"STARTED|PAUSED|STOPPED"}); every worker reads it and any worker
// writes it. Source offsets live in offset.storage.topic. Connector and
// task states go to status.storage.topic as Kafka Connect writes them
// (status-connector-<name>, status-task-<name>-<id> → {"state", "trace",
// "worker_id", "generation"}; tombstones when deleted). The assignment
// each member gets names every task's owner: a status gathers each task
// from its worker, calls about one task are proxied to its worker.
const (
	connectProtocolType = "connect"
	connectProtocolName = "runnel"
)

type distributed struct {
	w   *Worker
	cl  *kgo.Client
	log *slog.Logger
	url string // this worker's REST URL

	changed chan struct{} // a config record was applied (cap 1)

	mu       sync.Mutex // guards every field below
	configs  map[string]map[string]string
	targets  map[string]string
	owners   map[string]string // task ("name/id") → owner's REST URL
	mine     []string          // the tasks ("name/id") assigned here
	readUpTo int64             // next config topic offset to read
	gen      int32             // the group generation of the current assignment
}

// memberMeta is a member's JoinGroup metadata; assignment its SyncGroup
// assignment.
// The unit of assignment is a connector's task, named "name/id".
type memberMeta struct {
	URL   string   `json:"url"`
	Tasks []string `json:"tasks"`
}

type assignment struct {
	Tasks  []string          `json:"tasks"`
	Owners map[string]string `json:"owners"`
}

// taskUnit names task id of connector name in assignments.
func taskUnit(name string, id int) string { return name + "/" + strconv.Itoa(id) }

// splitUnit is taskUnit's inverse.
func splitUnit(u string) (name string, id int, ok bool) {
	i := strings.LastIndexByte(u, '/')
	if i < 0 {
		return "", 0, false
	}
	id, err := strconv.Atoi(u[i+1:])
	return u[:i], id, err == nil
}

// RunDistributed runs a distributed worker until ctx is done.
func RunDistributed(ctx context.Context, workerFile string, log *slog.Logger, ready func(addr string)) (err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := LoadWorkerFile(workerFile, log)
	if err != nil {
		return err
	}
	if cfg.GroupID == "" {
		return fmt.Errorf("worker config %s: %s is required in distributed mode", workerFile, KeyGroupID)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		return fmt.Errorf("creating the worker's Kafka client: %w", err)
	}
	if err := createInternalTopics(ctx, cl, cfg); err != nil {
		cl.Close()
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		cl.Close()
		return fmt.Errorf("listening for the REST API: %w", err)
	}
	w := newWorker(cfg, log, NewTopicOffsets(cl, cfg.OffsetTopic), cl)
	w.SetID(ln.Addr().String())
	d := &distributed{w: w, cl: cl, log: log, url: "http://" + ln.Addr().String(), changed: make(chan struct{}, 1),
		configs: map[string]map[string]string{}, targets: map[string]string{}, owners: map[string]string{}}
	w.dist = d
	w.status = d.writeStatus
	defer func() {
		if cerr := w.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); d.readConfigs(runCtx) }()
	go func() { defer wg.Done(); d.member(runCtx) }()
	defer func() { cancel(); wg.Wait() }()
	log.Info("Kafka Connect distributed worker started", "rest", d.url, "group", cfg.GroupID, "brokers", cfg.Brokers)
	if ready != nil {
		ready(ln.Addr().String())
	}
	return w.Serve(ctx, ln)
}

func createInternalTopics(ctx context.Context, cl *kgo.Client, cfg *WorkerConfig) error {
	compact := "compact"
	adm := kadm.NewClient(cl)
	for _, t := range []string{cfg.ConfigTopic, cfg.OffsetTopic, cfg.StatusTopic} {
		resp, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": &compact}, t)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating internal topic %s: %w", t, err)
		}
	}
	return nil
}

// readConfigs follows the config topic from its start, applying records.
func (d *distributed) readConfigs(ctx context.Context) {
	topic := d.w.cfg.ConfigTopic
	rd, err := kgo.NewClient(kgo.SeedBrokers(d.w.cfg.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		d.log.Error("reading the config topic", "err", err)
		return
	}
	defer rd.Close()
	for ctx.Err() == nil {
		fs := rd.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) { d.apply(r) })
		select {
		case d.changed <- struct{}{}:
		default:
		}
	}
}

// apply updates the config maps from one config topic record.
func (d *distributed) apply(r *kgo.Record) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.readUpTo = r.Offset + 1
	key := string(r.Key)
	if name, ok := strings.CutPrefix(key, "connector-"); ok {
		if r.Value == nil {
			delete(d.configs, name)
			delete(d.targets, name)
			return
		}
		var v struct {
			Properties map[string]string `json:"properties"`
		}
		if json.Unmarshal(r.Value, &v) == nil && v.Properties != nil {
			d.configs[name] = v.Properties
		}
		return
	}
	if name, ok := strings.CutPrefix(key, "target-state-"); ok {
		var v struct {
			State string `json:"state"`
		}
		if r.Value == nil || json.Unmarshal(r.Value, &v) != nil {
			delete(d.targets, name)
			return
		}
		if v.State == "STARTED" {
			v.State = StateRunning
		}
		d.targets[name] = v.State
	}
}

// write produces config records and waits until this worker has read them.
func (d *distributed) write(recs ...*kgo.Record) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, r := range recs {
		r.Topic = d.w.cfg.ConfigTopic
		r.Partition = 0
	}
	res := d.cl.ProduceSync(ctx, recs...)
	if err := res.FirstErr(); err != nil {
		return fmt.Errorf("writing to the config topic %s: %w", d.w.cfg.ConfigTopic, err)
	}
	last := recs[len(recs)-1].Offset
	for {
		d.mu.Lock()
		done := d.readUpTo > last
		d.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting to read back the config topic: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func configRecord(name string, props map[string]string) *kgo.Record {
	v, _ := json.Marshal(map[string]any{"properties": props})
	return &kgo.Record{Key: []byte("connector-" + name), Value: v}
}

func targetRecord(name, state string) *kgo.Record {
	if state == StateRunning {
		state = "STARTED"
	}
	v, _ := json.Marshal(map[string]string{"state": state})
	return &kgo.Record{Key: []byte("target-state-" + name), Value: v}
}

func (d *distributed) create(props map[string]string) (*ConnectorConfig, error) {
	cc, err := ParseConnector(d.w.cfg, props)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	_, exists := d.configs[cc.Name]
	d.mu.Unlock()
	if exists {
		return nil, fmt.Errorf("connector %s already exists: %w", cc.Name, ErrConflict)
	}
	return cc, d.write(targetRecord(cc.Name, StateRunning), configRecord(cc.Name, props))
}

func (d *distributed) put(name string, props map[string]string) (*ConnectorConfig, bool, error) {
	if props[KeyName] == "" {
		props[KeyName] = name
	}
	cc, err := ParseConnector(d.w.cfg, props)
	if err != nil {
		return nil, false, err
	}
	d.mu.Lock()
	_, exists := d.configs[name]
	d.mu.Unlock()
	recs := []*kgo.Record{configRecord(name, props)}
	if !exists {
		recs = append([]*kgo.Record{targetRecord(name, StateRunning)}, recs...)
	}
	return cc, !exists, d.write(recs...)
}

func (d *distributed) delete(name string) error {
	if _, _, err := d.snapshot(name); err != nil {
		return err
	}
	return d.write(&kgo.Record{Key: []byte("target-state-" + name)}, &kgo.Record{Key: []byte("connector-" + name)})
}

func (d *distributed) setTarget(name, state string) error {
	if _, _, err := d.snapshot(name); err != nil {
		return err
	}
	return d.write(targetRecord(name, state))
}

func (d *distributed) names() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Sorted(maps.Keys(d.configs))
}

func (d *distributed) snapshot(name string) (*ConnectorConfig, string, error) {
	d.mu.Lock()
	props, ok := d.configs[name]
	target := d.targets[name]
	d.mu.Unlock()
	if !ok {
		return nil, "", fmt.Errorf("connector %s not found: %w", name, ErrNotFound)
	}
	if target == "" {
		target = StateRunning
	}
	cc, err := ParseConnector(d.w.cfg, props)
	if err != nil {
		return nil, "", err
	}
	return cc, target, nil
}

// status is a connector's status: its tasks running here as they are,
// those running on other workers asked of them when fetch is set (else,
// like tasks not assigned yet, UNASSIGNED).
func (d *distributed) status(name string, fetch bool) (*Status, error) {
	d.mu.Lock()
	props, ok := d.configs[name]
	target := d.targets[name]
	owners := maps.Clone(d.owners)
	d.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("connector %s not found: %w", name, ErrNotFound)
	}
	typ := connectorTypeSource
	if _, isSource := flow.Lookup(flow.KindSource, props[KeyConnectorClass]); !isSource {
		typ = connectorTypeSink
	}
	if target == "" {
		target = StateRunning
	}
	tasks := 1
	if cc, err := ParseConnector(d.w.cfg, props); err == nil {
		tasks = cc.Tasks
	}
	worker := func(url string) string { return strings.TrimPrefix(url, "http://") }
	owner0 := owners[taskUnit(name, 0)]
	s := &Status{Name: name, Connector: ConnectorState{State: target, WorkerID: worker(owner0)}, Tasks: []TaskStatus{}, Type: typ}
	if owner0 == "" {
		s.Connector.State = StateUnassigned
	}
	local, _ := d.w.localStatus(name)
	for id := range tasks {
		owner := owners[taskUnit(name, id)]
		ts := TaskStatus{ID: id, State: StateUnassigned, WorkerID: worker(owner)}
		if local != nil {
			if i := slices.IndexFunc(local.Tasks, func(t TaskStatus) bool { return t.ID == id }); i >= 0 {
				ts = local.Tasks[i]
			}
		}
		if ts.State == StateUnassigned && fetch && owner != "" && owner != d.url {
			if got, err := d.remoteTaskStatus(owner, name, id); err == nil {
				ts = *got
			} else {
				d.log.Debug("asking a worker for a task's status (shown UNASSIGNED)", "worker", owner, "connector", name, "task", id, "err", err)
			}
		}
		s.Tasks = append(s.Tasks, ts)
	}
	return s, nil
}

// remoteTaskStatus asks the worker at owner for a task's status.
func (d *distributed) remoteTaskStatus(owner, name string, id int) (*TaskStatus, error) {
	var ts TaskStatus
	err := d.forward(http.MethodGet, 5*time.Second, owner, fmt.Sprintf("/connectors/%s/tasks/%d/status", url.PathEscape(name), id), &ts)
	return &ts, err
}

// restart restarts the connector's tasks here and asks every other worker
// running some of them to restart theirs.
func (d *distributed) restart(name string, onlyFailed bool) error {
	if _, _, err := d.snapshot(name); err != nil {
		return err
	}
	if err := d.w.restartLocal(name, onlyFailed); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	d.mu.Lock()
	others := map[string]bool{}
	for u, owner := range d.owners {
		if n, _, ok := splitUnit(u); ok && n == name && owner != d.url {
			others[owner] = true
		}
	}
	d.mu.Unlock()
	var errs []error
	for owner := range others {
		path := fmt.Sprintf("/connectors/%s/restart?includeTasks=true&onlyFailed=%t", url.PathEscape(name), onlyFailed)
		// Stopping a sink task waits for its consumer to leave the group.
		if err := d.forward(http.MethodPost, 2*time.Minute, owner, path, nil); err != nil {
			errs = append(errs, fmt.Errorf("asking %s to restart its tasks of %s: %w", owner, name, err))
		}
	}
	return errors.Join(errs...)
}

// forward makes a REST call on the worker at owner, marked as forwarded
// (so that worker answers for itself), decoding a JSON answer into out
// when out is not nil; it gives up after timeout.
func (d *distributed) forward(method string, timeout time.Duration, owner, path string, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, owner+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Runnel-Forwarded", d.url)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: HTTP %s", method, path, resp.Status)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decoding the answer to %s %s: %w", method, path, err)
	}
	return nil
}

// stopLocal stops a connector running here. then is what the status topic
// says afterwards: "" nothing (another worker takes it over and reports),
// UNASSIGNED (this worker is leaving), "deleted" (tombstones).
func (d *distributed) stopLocal(name, then string) {
	s, err := d.w.localStatus(name)
	if err != nil {
		return
	}
	if err := d.w.deleteLocal(name); err != nil {
		d.log.Error("stopping a connector", "connector", name, "err", err)
	}
	var keys []string
	if then == "deleted" || len(s.Tasks) == 0 || s.Tasks[0].ID == 0 {
		keys = append(keys, connectorStatusKey(name))
	}
	for _, t := range s.Tasks {
		keys = append(keys, taskStatusKey(name, t.ID))
	}
	for _, k := range keys {
		switch then {
		case StateUnassigned:
			d.writeStatus(k, StateUnassigned, "")
		case "deleted":
			d.produceStatus(&kgo.Record{Key: []byte(k)})
		}
	}
}

// writeStatus publishes a connector's or task's state to the status topic
// in Kafka Connect's layout: {"state", "trace", "worker_id", "generation"}.
func (d *distributed) writeStatus(key, state, trace string) {
	d.mu.Lock()
	gen := d.gen
	d.mu.Unlock()
	v := map[string]any{"state": state, "trace": nil, "worker_id": d.w.ID(), "generation": gen}
	if trace != "" {
		v["trace"] = trace
	}
	b, _ := json.Marshal(v)
	d.produceStatus(&kgo.Record{Key: []byte(key), Value: b})
}

// produceStatus writes r to the status topic without waiting; statuses are
// reports, a lost one is logged.
func (d *distributed) produceStatus(r *kgo.Record) {
	r.Topic = d.w.cfg.StatusTopic
	d.cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
		if err != nil {
			d.log.Warn("writing to the status topic", "topic", r.Topic, "key", string(r.Key), "err", err)
		}
	})
}

// ownerOf returns the REST URL of the worker running task id of name when
// that is another worker.
func (d *distributed) ownerOf(name string, id int) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	o := d.owners[taskUnit(name, id)]
	return o, o != "" && o != d.url
}

// proxy wraps the REST handler: calls about one task (tasks/{id}/...) go
// to the worker running it, about a connector's offsets and topics to the
// worker running its task 0. Status and restart are answered by any
// worker, asking the others (restRestart, distributed.status).
func (d *distributed) proxy(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/connectors/")
		if ok && r.Header.Get("X-Runnel-Forwarded") == "" {
			name, sub, _ := strings.Cut(rest, "/")
			id, runtime := 0, sub == "offsets" || sub == "topics"
			if t, ok := strings.CutPrefix(sub, "tasks/"); ok {
				n, _, _ := strings.Cut(t, "/")
				var err error
				id, err = strconv.Atoi(n)
				runtime = err == nil
			}
			if owner, remote := d.ownerOf(name, id); runtime && remote {
				u, err := url.Parse(owner)
				if err == nil {
					p := httputil.NewSingleHostReverseProxy(u)
					r.Header.Set("X-Runnel-Forwarded", d.url)
					p.ServeHTTP(rw, r)
					return
				}
			}
		}
		next.ServeHTTP(rw, r)
	})
}

// member keeps this worker in the group until ctx is done, applying each
// assignment, and leaves the group on the way out.
func (d *distributed) member(ctx context.Context) {
	group := d.w.cfg.GroupID
	memberID := ""
	defer func() {
		// Stop the tasks (flushing their source offsets) before leaving,
		// so the worker taking them over resumes from the latest offsets.
		for _, name := range d.w.localNames() {
			d.stopLocal(name, StateUnassigned)
		}
		fctx, fcancel := context.WithTimeout(context.Background(), 5*time.Second)
		d.cl.Flush(fctx) // the UNASSIGNED statuses, before the client closes
		fcancel()
		if memberID == "" {
			return
		}
		req := kmsg.NewPtrLeaveGroupRequest()
		req.Group, req.MemberID = group, memberID
		m := kmsg.NewLeaveGroupRequestMember()
		m.MemberID = memberID
		req.Members = append(req.Members, m)
		lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req.RequestWith(lctx, d.cl)
	}()
	known := d.units()
	for ctx.Err() == nil {
		gen, err := d.joinAndSync(ctx, &memberID)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("joining the connect group", "group", group, "err", err)
				sleepCtx(ctx, time.Second)
			}
			continue
		}
		d.mu.Lock()
		d.gen = gen
		d.mu.Unlock()
		d.reconcile()
		// Heartbeat until a rebalance, or a new or deleted connector asks
		// for one; other config changes are applied in place.
		t := time.NewTicker(max(d.w.cfg.Heartbeat, 10*time.Millisecond))
	beat:
		for {
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-d.changed:
				d.reconcile()
				if now := d.units(); !slices.Equal(now, known) {
					known = now
					break beat
				}
			case <-t.C:
				req := kmsg.NewPtrHeartbeatRequest()
				req.Group, req.Generation, req.MemberID = group, gen, memberID
				resp, err := req.RequestWith(ctx, d.cl)
				if err != nil {
					continue
				}
				if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
					if errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.FencedInstanceID) {
						memberID = ""
					}
					break beat
				}
			}
		}
		t.Stop()
	}
}

// joinAndSync runs one JoinGroup + SyncGroup round; the leader computes
// the assignment. It stores the assignment and returns the generation.
func (d *distributed) joinAndSync(ctx context.Context, memberID *string) (int32, error) {
	group := d.w.cfg.GroupID
	d.mu.Lock()
	meta, _ := json.Marshal(memberMeta{URL: d.url, Tasks: d.mine})
	d.mu.Unlock()
	var jr *kmsg.JoinGroupResponse
	for {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.MemberID, req.ProtocolType = group, *memberID, connectProtocolType
		req.SessionTimeoutMillis = int32(d.w.cfg.SessionTimeout / time.Millisecond)
		req.RebalanceTimeoutMillis = int32(d.w.cfg.RebalanceTimeout / time.Millisecond)
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name, p.Metadata = connectProtocolName, meta
		req.Protocols = append(req.Protocols, p)
		resp, err := req.RequestWith(ctx, d.cl)
		if err != nil {
			return 0, err
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			if errors.Is(err, kerr.MemberIDRequired) {
				*memberID = resp.MemberID
				continue
			}
			if errors.Is(err, kerr.UnknownMemberID) {
				*memberID = ""
			}
			return 0, fmt.Errorf("JoinGroup: %w", err)
		}
		jr = resp
		break
	}
	*memberID = jr.MemberID
	sreq := kmsg.NewPtrSyncGroupRequest()
	sreq.Group, sreq.Generation, sreq.MemberID = group, jr.Generation, jr.MemberID
	sreq.ProtocolType, sreq.Protocol = kmsg.StringPtr(connectProtocolType), kmsg.StringPtr(connectProtocolName)
	if jr.LeaderID == jr.MemberID {
		for id, a := range d.assign(jr.Members) {
			ga := kmsg.NewSyncGroupRequestGroupAssignment()
			ga.MemberID = id
			ga.MemberAssignment, _ = json.Marshal(a)
			sreq.GroupAssignment = append(sreq.GroupAssignment, ga)
		}
	}
	sresp, err := sreq.RequestWith(ctx, d.cl)
	if err != nil {
		return 0, err
	}
	if err := kerr.ErrorForCode(sresp.ErrorCode); err != nil {
		return 0, fmt.Errorf("SyncGroup: %w", err)
	}
	var a assignment
	if len(sresp.MemberAssignment) > 0 {
		if err := json.Unmarshal(sresp.MemberAssignment, &a); err != nil {
			return 0, fmt.Errorf("decoding the assignment: %w", err)
		}
	}
	d.mu.Lock()
	d.mine, d.owners = a.Tasks, a.Owners
	if d.owners == nil {
		d.owners = map[string]string{}
	}
	d.mu.Unlock()
	d.log.Info("connect group assignment", "generation", jr.Generation, "members", len(jr.Members), "tasks", a.Tasks)
	return jr.Generation, nil
}

// units lists every task of every connector in the config topic
// ("name/id"), in order.
func (d *distributed) units() []string {
	d.mu.Lock()
	configs := maps.Clone(d.configs)
	d.mu.Unlock()
	var us []string
	for _, name := range slices.Sorted(maps.Keys(configs)) {
		n := 1
		if cc, err := ParseConnector(d.w.cfg, configs[name]); err == nil {
			n = cc.Tasks
		}
		for id := range n {
			us = append(us, taskUnit(name, id))
		}
	}
	return us
}

// assign is the leader's sticky assignment: every task of every connector
// in the config topic goes to its current owner while that owner is a
// member with fewer than its share (ceil(tasks/members)); the rest go to
// the least loaded members.
func (d *distributed) assign(members []kmsg.JoinGroupResponseMember) map[string]assignment {
	names := d.units()
	type mem struct {
		id   string
		meta memberMeta
		got  []string
	}
	ms := make([]*mem, 0, len(members))
	for _, m := range members {
		x := &mem{id: m.MemberID}
		json.Unmarshal(m.ProtocolMetadata, &x.meta)
		ms = append(ms, x)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].id < ms[j].id })
	if len(ms) == 0 {
		return nil
	}
	share := (len(names) + len(ms) - 1) / len(ms)
	prev := map[string]*mem{}
	for _, m := range ms {
		for _, c := range m.meta.Tasks {
			if prev[c] == nil {
				prev[c] = m
			}
		}
	}
	var rest []string
	for _, c := range names {
		if m := prev[c]; m != nil && len(m.got) < share {
			m.got = append(m.got, c)
		} else {
			rest = append(rest, c)
		}
	}
	for _, c := range rest {
		least := ms[0]
		for _, m := range ms[1:] {
			if len(m.got) < len(least.got) {
				least = m
			}
		}
		least.got = append(least.got, c)
	}
	owners := map[string]string{}
	for _, m := range ms {
		for _, c := range m.got {
			owners[c] = m.meta.URL
		}
	}
	out := map[string]assignment{}
	for _, m := range ms {
		out[m.id] = assignment{Tasks: m.got, Owners: owners}
	}
	return out
}

// reconcile makes the connectors running here match the assignment and
// the config topic: starts assigned ones, stops the others, applies new
// configs and target states.
func (d *distributed) reconcile() {
	d.mu.Lock()
	want := map[string]map[string]string{}
	targets := map[string]string{}
	ids := map[string][]int{}
	for _, u := range d.mine {
		c, id, ok := splitUnit(u)
		if props, configured := d.configs[c]; ok && configured {
			want[c] = props
			targets[c] = d.targets[c]
			ids[c] = append(ids[c], id)
		}
	}
	d.mu.Unlock()
	for _, l := range ids {
		slices.Sort(l)
	}
	w := d.w
	for _, name := range w.localNames() {
		if _, ok := want[name]; !ok {
			d.mu.Lock()
			_, configured := d.configs[name]
			d.mu.Unlock()
			if configured {
				d.stopLocal(name, "") // its new owner reports it
			} else {
				d.stopLocal(name, "deleted")
			}
		}
	}
	for name, props := range want {
		target := targets[name]
		if target == "" {
			target = StateRunning
		}
		cc, cur, err := w.localSnapshot(name)
		switch {
		case err != nil:
			if _, err := w.createLocalTasks(props, ids[name]); err != nil {
				d.log.Error("starting an assigned connector", "connector", name, "err", err)
				continue
			}
		case !maps.Equal(cc.Props, props):
			if _, _, err := w.putLocal(name, props); err != nil {
				d.log.Error("applying a new connector config", "connector", name, "err", err)
				continue
			}
		}
		if err := w.setLocalTasks(name, ids[name]); err != nil {
			d.log.Error("applying the tasks assigned here", "connector", name, "err", err)
		}
		if cur != target {
			if err := w.setTargetLocal(name, target); err != nil {
				d.log.Error("applying a target state", "connector", name, "err", err)
			}
		}
	}
}
