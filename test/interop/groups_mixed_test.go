package interop

// Consumer groups across clients: franz-go, kcat -G (librdkafka) and kafkajs
// share one group; a member is killed mid-stream; the server is killed -9
// while a group consumes.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/testutil"
)

// groupSettings make the first rebalance immediate.
var groupSettings = map[string]string{"group.initial.rebalance.delay.ms": "0"}

// kafkajsGroupScript is a kafkajs group member printing one value per line.
const kafkajsGroupScript = `'use strict'
const { Kafka, logLevel, PartitionAssigners: { roundRobin } } = require('kafkajs')
const [broker, topic, group] = process.argv.slice(2)
const kafka = new Kafka({ clientId: 'kafkajs-member', brokers: [broker], logLevel: logLevel.WARN })
// kafkajs calls its round-robin assignor "RoundRobinAssigner"; under the
// Java name the other clients offer, all three share one protocol.
const javaRoundRobin = (config) => ({ ...roundRobin(config), name: 'roundrobin' })
const consumer = kafka.consumer({ groupId: group, sessionTimeout: 10000, heartbeatInterval: 1000, partitionAssigners: [javaRoundRobin] })
async function main () {
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({ eachMessage: async ({ message }) => { process.stdout.write(message.value.toString() + '\n') } })
}
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, async () => { try { await consumer.disconnect() } finally { process.exit(0) } })
}
main().catch(e => { console.error(e); process.exit(1) })
`

// memberProc is an external group member whose stdout lines are values.
type memberProc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	errb *testutil.SyncBuffer
}

// startMember starts cmd and calls onValue for every stdout line.
func startMember(t testing.TB, name string, cmd *exec.Cmd, onValue func(string)) *memberProc {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	m := &memberProc{name: name, cmd: cmd, done: make(chan struct{}), errb: &testutil.SyncBuffer{}}
	cmd.Stderr = m.errb
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		defer close(m.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			onValue(sc.Text())
		}
		cmd.Wait()
	}()
	t.Cleanup(func() { m.stop(syscall.SIGKILL) })
	return m
}

// stop signals the process and waits up to 20s for it to exit.
func (m *memberProc) stop(sig syscall.Signal) {
	select {
	case <-m.done:
		return
	default:
	}
	m.cmd.Process.Signal(sig)
	select {
	case <-m.done:
	case <-time.After(20 * time.Second):
		m.cmd.Process.Kill()
		<-m.done
	}
}

func kcatMember(t testing.TB, addr, topic, group string) *exec.Cmd {
	return exec.Command(needKcat(t), "-b", addr, "-G", group, "-q", "-u", "-f", "%s\n",
		"-X", "auto.offset.reset=earliest", "-X", "session.timeout.ms=6000",
		"-X", "client.id=kcat-member", "-X", "partition.assignment.strategy=roundrobin", topic)
}

func kafkajsMember(t testing.TB, addr, topic, group string) *exec.Cmd {
	node := nodePath(t)
	script := filepath.Join(t.TempDir(), "group-member.js")
	if err := os.WriteFile(script, []byte(kafkajsGroupScript), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, script, addr, topic, group)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(nodeDir(), "node_modules"))
	return cmd
}

// waitGroup waits until group is Stable with n members and returns it.
func waitGroup(t testing.TB, adm *kadm.Client, group string, n int, timeout time.Duration) kadm.DescribedGroup {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last kadm.DescribedGroup
	for time.Now().Before(deadline) {
		ds, err := adm.DescribeGroups(context.Background(), group)
		if err == nil {
			last = ds[group]
			if last.State == "Stable" && len(last.Members) == n {
				return last
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("group %s not Stable with %d members after %v: state %q, %d members", group, n, timeout, last.State, len(last.Members))
	return last
}

// tally counts deliveries per value and per member.
type tally struct {
	mu        sync.Mutex
	seen      map[string]int
	perMember map[string]int
}

func newTally() *tally { return &tally{seen: map[string]int{}, perMember: map[string]int{}} }

func (c *tally) add(member, v string) {
	c.mu.Lock()
	c.seen[v]++
	c.perMember[member]++
	c.mu.Unlock()
}

func (c *tally) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// waitDistinct waits until n distinct values arrived.
func (c *tally) waitDistinct(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for c.distinct() < n {
		if time.Now().After(deadline) {
			c.mu.Lock()
			defer c.mu.Unlock()
			t.Fatalf("only %d of %d records arrived in %v (per member %v)", len(c.seen), n, timeout, c.perMember)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func produceValues(t testing.TB, addr, topic string, from, to int) {
	t.Helper()
	cl := newClient(t, addr, kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerBatchCompression(kgo.NoCompression())) // kafkajs reads no snappy
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i := from; i < to; i++ {
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "r-%d", i)}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("producing: %v", firstErr)
	}
}

// franzMember runs a franz-go group member until ctx is done.
func franzMember(t testing.TB, ctx context.Context, addr, topic, group string, onValue func(string), opts ...kgo.Opt) *sync.WaitGroup {
	cl := newClient(t, addr, append([]kgo.Opt{kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.ClientID("franz-member"),
		kgo.FetchMaxWait(200 * time.Millisecond), kgo.Balancers(kgo.RoundRobinBalancer())}, opts...)...)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cl.Close()
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { onValue(string(r.Value)) })
		}
	}()
	return &wg
}

// TestGroupsMixedClients: franz-go, kcat -G and kafkajs in one group share a
// 6-partition topic of 100k records, each record reaching exactly one of
// them; a second group receives all 100k.
func TestGroupsMixedClients(t *testing.T) {
	srv := startServer(t, withSettings(groupSettings))
	const topic, total = "mixed", 100_000
	createTopic(t, srv.Addr, topic, 6, nil)
	adm := kadm.NewClient(newClient(t, srv.Addr))

	counts := newTally()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	franz := franzMember(t, ctx, srv.Addr, topic, "shared", func(v string) { counts.add("franz-go", v) })
	kc := startMember(t, "kcat", kcatMember(t, srv.Addr, topic, "shared"), func(v string) { counts.add("kcat", v) })
	kj := startMember(t, "kafkajs", kafkajsMember(t, srv.Addr, topic, "shared"), func(v string) { counts.add("kafkajs", v) })
	dg := waitGroup(t, adm, "shared", 3, 90*time.Second)
	clients := map[string]bool{}
	for _, m := range dg.Members {
		clients[m.ClientID] = true
		if a, ok := m.Assigned.AsConsumer(); !ok || len(a.Topics) == 0 {
			t.Errorf("member %s (%s) has no assignment", m.MemberID, m.ClientID)
		}
	}
	if !clients["franz-member"] || !clients["kcat-member"] || !clients["kafkajs-member"] {
		t.Errorf("group members' client ids: %v", clients)
	}

	start := time.Now()
	produceValues(t, srv.Addr, topic, 0, total)
	counts.waitDistinct(t, total, 120*time.Second)
	t.Logf("three mixed members consumed %d records in %v", total, time.Since(start))
	time.Sleep(time.Second) // let any duplicate surface
	cancel()
	franz.Wait()
	kc.stop(syscall.SIGTERM)
	kj.stop(syscall.SIGTERM)

	counts.mu.Lock()
	for v, n := range counts.seen {
		if n != 1 {
			t.Errorf("record %s delivered %d times", v, n)
			break
		}
	}
	for _, m := range []string{"franz-go", "kcat", "kafkajs"} {
		if counts.perMember[m] == 0 {
			t.Errorf("member %s received nothing (per member %v)", m, counts.perMember)
		}
	}
	t.Logf("per member: %v", counts.perMember)
	counts.mu.Unlock()
	if t.Failed() {
		t.Logf("kcat stderr:\n%s\nkafkajs stderr:\n%s", tail(kc.errb.String(), 3000), tail(kj.errb.String(), 3000))
	}

	other := newTally()
	ctx2, cancel2 := context.WithCancel(context.Background())
	wg := franzMember(t, ctx2, srv.Addr, topic, "everything", func(v string) { other.add("franz-go", v) })
	other.waitDistinct(t, total, 120*time.Second)
	cancel2()
	wg.Wait()
}

// TestGroupsMemberKilled: a kcat member is killed -9 mid-stream; after its
// session times out the franz-go survivors take over its partitions from
// the last committed offsets and nothing is lost.
func TestGroupsMemberKilled(t *testing.T) {
	srv := startServer(t, withSettings(groupSettings))
	const topic, total = "killed", 30_000
	createTopic(t, srv.Addr, topic, 6, nil)
	adm := kadm.NewClient(newClient(t, srv.Addr))
	counts := newTally()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wgs []*sync.WaitGroup
	for i := range 2 {
		name := fmt.Sprintf("franz-%d", i)
		wgs = append(wgs, franzMember(t, ctx, srv.Addr, topic, "survivors", func(v string) { counts.add(name, v) },
			kgo.AutoCommitInterval(200*time.Millisecond)))
	}
	kc := startMember(t, "kcat", kcatMember(t, srv.Addr, topic, "survivors"), func(v string) { counts.add("kcat", v) })
	waitGroup(t, adm, "survivors", 3, 90*time.Second)
	produceValues(t, srv.Addr, topic, 0, total/2)
	deadline := time.Now().Add(60 * time.Second)
	for {
		counts.mu.Lock()
		n := counts.perMember["kcat"]
		counts.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("kcat never received a record")
		}
		time.Sleep(50 * time.Millisecond)
	}
	kc.stop(syscall.SIGKILL)
	produceValues(t, srv.Addr, topic, total/2, total)
	waitGroup(t, adm, "survivors", 2, 60*time.Second)
	counts.waitDistinct(t, total, 120*time.Second)
	cancel()
	for _, wg := range wgs {
		wg.Wait()
	}
	counts.mu.Lock()
	t.Logf("per member: %v, distinct %d", counts.perMember, len(counts.seen))
	counts.mu.Unlock()
}

// TestGroupsServerKill9: the server is killed -9 while a franz-go group
// consumes and commits; after the restart every acknowledged commit is still
// there, the consumer resumes and no record is skipped.
func TestGroupsServerKill9(t *testing.T) {
	srv := startServer(t, withSettings(groupSettings))
	const topic, total = "crash", 20_000
	createTopic(t, srv.Addr, topic, 3, nil)
	produceValues(t, srv.Addr, topic, 0, total)

	cl := newClient(t, srv.Addr, kgo.ConsumerGroup("durable"), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.FetchMaxPartitionBytes(16<<10), kgo.RetryTimeout(60*time.Second))
	seen := map[string]bool{}
	acked := map[int32]int64{} // last offsets acknowledged by the server
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	killed := false
	for len(seen) < total && ctx.Err() == nil {
		fs := cl.PollRecords(ctx, 500)
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
		cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
		commitErr := cl.CommitUncommittedOffsets(cctx)
		ccancel()
		if commitErr == nil {
			for tp, o := range cl.CommittedOffsets()[topic] {
				acked[tp] = o.Offset
			}
		}
		if !killed && len(seen) > total/3 {
			kill9(t, srv)
			killed = true
			adm := kadm.NewClient(newClient(t, srv.Addr))
			restart(t, srv)
			got, err := adm.FetchOffsets(ctx, "durable")
			if err != nil {
				t.Fatalf("fetching offsets after restart: %v", err)
			}
			for p, at := range acked {
				o, ok := got.Lookup(topic, p)
				if !ok || o.At < at {
					t.Errorf("partition %d: committed %d before kill -9, %d (found %v) after restart", p, at, o.At, ok)
				}
			}
			t.Logf("killed -9 after %d records; acknowledged commits %v survived", len(seen), acked)
		}
	}
	if len(seen) < total {
		t.Fatalf("consumed %d of %d distinct records across the crash", len(seen), total)
	}
}
