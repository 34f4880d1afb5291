package interop

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Kafka 4.x tool classes (all in kafka-tools, see test/interop/java/pom.xml).
const (
	javaTopicCommand        = "org.apache.kafka.tools.TopicCommand"
	javaConsoleProducer     = "org.apache.kafka.tools.ConsoleProducer"
	javaConsoleConsumer     = "org.apache.kafka.tools.consumer.ConsoleConsumer"
	javaProducerPerformance = "org.apache.kafka.tools.ProducerPerformance"
	// javaConsumerGroupCommand is for the consumer-group suite.
	javaConsumerGroupCommand = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
)

// TestJavaTools runs Kafka's own command-line tools (Java client 4.1 from
// Maven Central) against the broker: TopicCommand --create/--list/--describe,
// ConsoleProducer, ConsoleConsumer --from-beginning and ProducerPerformance.
func TestJavaTools(t *testing.T) {
	javaClasspath(t)
	srv := startServer(t)
	bs := []string{"--bootstrap-server", srv.Addr}

	t.Run("TopicCommand", func(t *testing.T) {
		const topic = "java-topics"
		runJava(t, javaTopicCommand, append(bs, "--create", "--topic", topic,
			"--partitions", "4", "--replication-factor", "1", "--config", "retention.ms=3600000")...).mustOK(t)
		// The topic really exists with 4 partitions.
		if ends := endOffsets(t, srv.Addr, topic); len(ends) != 4 {
			t.Errorf("after TopicCommand --create: %d partitions, want 4", len(ends))
		}

		res := runJava(t, javaTopicCommand, append(bs, "--list")...).mustOK(t)
		if !containsLine(res.Stdout, topic) {
			t.Errorf("TopicCommand --list does not list %s:\n%s", topic, res.Stdout)
		}

		res = runJava(t, javaTopicCommand, append(bs, "--describe", "--topic", topic)...).mustOK(t)
		for _, want := range []string{"PartitionCount: 4", "ReplicationFactor: 1", "retention.ms=3600000"} {
			if !strings.Contains(res.Stdout, want) {
				t.Errorf("TopicCommand --describe lacks %q:\n%s", want, res.Stdout)
			}
		}
		// Kafka's tool and ours print the same topic id (Kafka's Uuid text form).
		javaID := regexp.MustCompile(`TopicId: (\S+)`).FindStringSubmatch(res.Stdout)
		ours := runCmd(t, time.Minute, "", nil, runnelBin, "--brokers", srv.Addr, "topic", "describe", topic).mustOK(t).Stdout
		if javaID == nil || !regexp.MustCompile(`(?m)^ID\s+`+regexp.QuoteMeta(javaID[1])+`$`).MatchString(ours) {
			t.Errorf("topic ids differ: TopicCommand says %q, runnel topic describe says:\n%s", javaID, ours)
		}
		for p := 0; p < 4; p++ {
			if !regexp.MustCompile(fmt.Sprintf(`Partition: %d\s+Leader: \d+`, p)).MatchString(res.Stdout) {
				t.Errorf("TopicCommand --describe lacks partition %d with a leader:\n%s", p, res.Stdout)
			}
		}

		// Creating it again is refused with Kafka's error.
		res = runJava(t, javaTopicCommand, append(bs, "--create", "--topic", topic, "--partitions", "1")...)
		if res.Err == nil || !strings.Contains(res.Stdout+res.Stderr, "already exists") {
			t.Errorf("second --create: err %v, want a TopicExistsException:\n%s%s", res.Err, res.Stdout, res.Stderr)
		}
	})

	t.Run("ConsoleProducer_ConsoleConsumer", func(t *testing.T) {
		const topic = "java-console"
		const n = 200
		createTopic(t, srv.Addr, topic, 1, nil)
		var in strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&in, "k%d:console line %d\n", i, i)
		}
		runJavaInput(t, strings.NewReader(in.String()), javaConsoleProducer, append(bs,
			"--topic", topic, "--compression-codec", "lz4",
			"--property", "parse.key=true", "--property", "key.separator=:",
			"--producer-property", "acks=all")...).mustOK(t)

		recs := consumeAll(t, srv.Addr, topic, n, time.Minute)
		for i, r := range recs {
			if string(r.Key) != fmt.Sprintf("k%d", i) || string(r.Value) != fmt.Sprintf("console line %d", i) {
				t.Fatalf("record %d: key %q value %q", i, r.Key, r.Value)
			}
			if c := r.Attrs.CompressionType(); c != 3 {
				t.Fatalf("record %d stored with compression %d, want 3 (lz4)", i, c)
			}
		}

		// Partition-level consumption (assign, no consumer group).
		res := runJava(t, javaConsoleConsumer, append(bs, "--topic", topic,
			"--partition", "0", "--from-beginning", "--max-messages", fmt.Sprint(n),
			"--timeout-ms", "30000", "--property", "print.key=true", "--property", "key.separator=:")...).mustOK(t)
		got := strings.Split(strings.TrimSuffix(res.Stdout, "\n"), "\n")
		if len(got) != n {
			t.Fatalf("ConsoleConsumer printed %d lines, want %d:\n%s\nstderr:\n%s", len(got), n, tail(res.Stdout, 2000), tail(res.Stderr, 2000))
		}
		for i, l := range got {
			if want := fmt.Sprintf("k%d:console line %d", i, i); l != want {
				t.Fatalf("ConsoleConsumer line %d: %q, want %q", i, l, want)
			}
		}
	})

	// The Kafka quickstart's plain `kafka-console-consumer --topic T
	// --from-beginning`: it subscribes under a generated consumer group, so
	// this needs the group coordinator (consumer-groups issue).
	t.Run("ConsoleConsumer_quickstart", func(t *testing.T) {
		const topic = "java-quickstart"
		createTopic(t, srv.Addr, topic, 1, nil)
		runJavaInput(t, strings.NewReader("This is my first event\nThis is my second event\n"),
			javaConsoleProducer, append(bs, "--topic", topic)...).mustOK(t)
		res := runJava(t, javaConsoleConsumer, append(bs, "--topic", topic,
			"--from-beginning", "--max-messages", "2", "--timeout-ms", "60000")...).mustOK(t)
		if res.Stdout != "This is my first event\nThis is my second event\n" {
			t.Errorf("ConsoleConsumer printed %q", res.Stdout)
		}
	})

	t.Run("ProducerPerformance", func(t *testing.T) {
		const topic = "java-perf"
		const n = 20000
		createTopic(t, srv.Addr, topic, 2, nil)
		res := runJava(t, javaProducerPerformance, "--topic", topic,
			"--num-records", fmt.Sprint(n), "--record-size", "100", "--throughput", "-1",
			"--producer-props", "bootstrap.servers="+srv.Addr, "acks=all", "linger.ms=5", "compression.type=zstd").mustOK(t)
		m := regexp.MustCompile(`(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\)`).FindAllStringSubmatch(res.Stdout, -1)
		if len(m) == 0 {
			t.Fatalf("no ProducerPerformance summary in output:\n%s", res.Stdout)
		}
		last := m[len(m)-1]
		if atoi(t, last[1]) != n {
			t.Errorf("ProducerPerformance reports %s records sent, want %d", last[1], n)
		}
		t.Logf("ProducerPerformance: %s records/sec, %s MB/sec", last[2], last[3])
		var total int64
		for _, e := range endOffsets(t, srv.Addr, topic) {
			total += e
		}
		if total != n {
			t.Errorf("log end offsets sum to %d after ProducerPerformance, want %d", total, n)
		}
	})
}

// containsLine reports whether s has a line equal to want.
func containsLine(s, want string) bool {
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) == want {
			return true
		}
	}
	return false
}
