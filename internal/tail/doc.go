// Package tail follows files by name like `tail -F`, safely across
// rotation by rename, rotation by copytruncate, deletion, and restarts.
//
// A Follower watches groups of files (a directory and a regular expression
// on the file name) by polling: every PollInterval it lists the
// directories, stats every matching name and fstats every open file. A file
// is identified by its inode plus a Fingerprint, a hash of its first bytes
// (up to FingerprintSize) recorded with the length it covers:
//
//   - a name that now leads to another inode is a rotation by rename: the
//     old file stays open and is read to its end through its descriptor
//     (a writer may still append to it until it reopens), then closed once
//     it stayed idle for IdleTimeout; the new file is read from its start;
//   - a file shorter than the read position, or whose first bytes no longer
//     hash to its fingerprint, was truncated (copytruncate): it is read again
//     from offset 0, and the lines between the read position and the
//     truncation are looked for in the copy: a file in the same directory
//     whose name starts with the truncated file's name (app.log.1,
//     app.log-20240101) or that matches a group, with the same fingerprint
//     and at least as many bytes; it is read from the old position on;
//   - a file renamed to another name that still matches a group keeps its
//     position (Flume's taildir reads such files again from the start);
//   - a deleted file is read to its end through its descriptor like a
//     rotated one.
//
// Lines end at '\n' ('\r\n' is taken whole). A partial last line waits for
// its newline; a rotated file that stays idle gives its partial last line up
// as a line. A line longer than MaxLineLength is split into pieces of
// MaxLineLength bytes, so no byte is dropped.
//
// Positions: each Line carries where it ends; the caller calls Commit once
// the lines are delivered, and Positions reports, per file, the offset after
// the last committed line. On restart a Position is matched to a file by
// inode and fingerprint (an inode whose first bytes changed is a new file);
// a file rotated away while the process was down is found among the other
// files of its directory by inode, and a truncated one by its copy. Reading
// resumes exactly after the last committed line, so a restart delivers
// again only lines that were read but not committed.
//
// A Follower is used by one goroutine; it starts none of its own.
package tail
