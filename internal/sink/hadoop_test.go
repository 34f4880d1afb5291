package sink

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runnel/runnel/internal/flow"
)

// TestHadoopReadsSinkFiles has Hadoop's own classes read what the hdfs sink
// writes: SequenceFiles (both write formats, uncompressed and
// block-compressed) with SequenceFile.Reader, gzip, snappy and zlib
// CompressedStreams with the codec Hadoop picks by extension. It
// needs Java and Hadoop's jars in RUNNEL_HADOOP_JARS (fetch them with
// internal/seqfile/testdata/hadoop-pom.xml).
func TestHadoopReadsSinkFiles(t *testing.T) {
	jars := os.Getenv("RUNNEL_HADOOP_JARS")
	if jars == "" {
		t.Skip("RUNNEL_HADOOP_JARS is not set; see internal/seqfile/testdata/hadoop-pom.xml to fetch Hadoop's jars")
	}
	classes := t.TempDir()
	cp := filepath.Join(jars, "*")
	if out, err := exec.Command("javac", "-d", classes, "-cp", cp, "../seqfile/testdata/SeqCheck.java").CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	cases := []struct {
		name string
		keys map[string]string
		cmd  string
	}{
		{"SequenceFile Writable", map[string]string{}, "read"},
		{"SequenceFile Text", map[string]string{"hdfs.writeFormat": "Text"}, "read"},
		{"gzip", map[string]string{"hdfs.fileType": "CompressedStream", "hdfs.codeC": "gzip"}, "cat"},
		{"snappy", map[string]string{"hdfs.fileType": "CompressedStream", "hdfs.codeC": "SnappyCodec"}, "cat"},
		{"default (zlib)", map[string]string{"hdfs.fileType": "CompressedStream", "hdfs.codeC": "default"}, "cat"},
		{"SequenceFile gzip", map[string]string{"hdfs.codeC": "gzip"}, "read"},
		{"SequenceFile snappy", map[string]string{"hdfs.codeC": "snappy", "hdfs.writeFormat": "Text"}, "read"},
		{"SequenceFile default", map[string]string{"hdfs.codeC": "default"}, "read"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			raw := map[string]string{"hdfs.path": dir, "hdfs.rollCount": "0", "hdfs.rollSize": "0"}
			for k, v := range tc.keys {
				raw[k] = v
			}
			s := mustBuildSink(t, "hdfs", raw)
			var want []string
			for b := range 4 {
				var batch []flow.Event
				for i := range 300 {
					n := b*300 + i
					body := fmt.Sprintf("event %d %s", n, strings.Repeat("q", n%120))
					ts := fmt.Sprint(1700000000000 + n)
					if tc.cmd == "read" {
						want = append(want, ts+"\t"+body)
					} else {
						want = append(want, body)
					}
					batch = append(batch, hdrEvent(body, "timestamp", ts))
				}
				if err := s.Deliver(context.Background(), batch); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			files := filesUnder(t, dir)
			if len(files) != 1 {
				t.Fatalf("files %v", files)
			}
			out, err := exec.Command("java", "-cp", cp+string(os.PathListSeparator)+classes, "SeqCheck", tc.cmd, filepath.Join(dir, files[0])).Output()
			if err != nil {
				t.Fatalf("hadoop %s: %v", tc.cmd, err)
			}
			lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
			if tc.cmd == "read" {
				lines = lines[1:] // key and value class names
			}
			if strings.Join(lines, "\n") != strings.Join(want, "\n") {
				t.Fatalf("hadoop read %d lines, want %d; first %q", len(lines), len(want), lines[0])
			}
		})
	}
}
