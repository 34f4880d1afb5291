package broker

// DescribeLogDirs (key 35): v0-v4. One log dir, the data dir, listing the
// size on disk of every requested partition (a nil topic list means all);
// v4+ also its total and usable bytes (statfs). Offset lag is always 0 (no
// replicas).

import (
	"context"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/sys/unix"
)

func init() { regKey(35, 0, 4, handleDescribeLogDirs) }

func handleDescribeLogDirs(_ context.Context, s *Server, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.DescribeLogDirsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir, _ = filepath.Abs(s.cfg.DataDir)
	dir.TotalBytes, dir.UsableBytes = -1, -1
	var st unix.Statfs_t
	if err := unix.Statfs(s.cfg.DataDir, &st); err == nil {
		dir.TotalBytes = int64(st.Blocks) * int64(st.Bsize)
		dir.UsableBytes = int64(st.Bavail) * int64(st.Bsize)
	}
	addTopic := func(name string, parts []int32) {
		t, ok := s.topics.Get(name)
		if !ok {
			return
		}
		dt := kmsg.NewDescribeLogDirsResponseDirTopic()
		dt.Topic = name
		if parts == nil {
			for p := range t.Partitions {
				parts = append(parts, int32(p))
			}
		}
		for _, p := range parts {
			if p < 0 || int(p) >= len(t.Partitions) {
				continue
			}
			dp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			dp.Partition = p
			dp.Size = t.Partitions[p].Size()
			dt.Partitions = append(dt.Partitions, dp)
		}
		dir.Topics = append(dir.Topics, dt)
	}
	if req.Topics == nil {
		for _, t := range s.topics.List() {
			addTopic(t.Name, nil)
		}
	} else {
		for _, rt := range req.Topics {
			addTopic(rt.Topic, rt.Partitions)
		}
	}
	resp.Dirs = append(resp.Dirs, dir)
	return resp, nil
}
