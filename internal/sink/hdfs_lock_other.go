//go:build !unix

package sink

import "os"

// lockInUse is a no-op where flock(2) does not exist: recovery then cannot
// tell a file another running sink writes from a leftover.
func lockInUse(*os.File) error { return nil }
